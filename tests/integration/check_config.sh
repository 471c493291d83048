#!/bin/sh
# tests/integration/check_config.sh - brokerd --check-config reports what the
# daemon would refuse or ignore, one line each, and exits 2; the daemon says
# the same at start (broker.conf(5): a typo never goes unnoticed):
#
#   plugin options: an unknown name, a string for an integer, a value out of
#     range, in the file or in a --watch entry;
#   "plugins" entries and --watch names that match no loaded plugin;
#   a config route whose scheme no plugin serves;
#   a link secret file readable by others, or too short - and later, every
#     link that needs the secret says that reason, not "pass --link-secret".
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 18

PN="$top_builddir/plugins/procnet/.libs"
[ -e "$PN/procnet.so" ] || bail "procnet plugin not built ($PN/procnet.so)"
CC="--runtime-dir $T/cc --state-dir $T/cc $PLUGIN_ARGS --plugin-dir $PN"

# cc NAME ARGS...: brokerd --check-config ARGS; stdout+stderr in $T/NAME.out, status in CC_RC.
cc() {
	_o=$1; shift
	# shellcheck disable=SC2086
	"$BROKERD" $CC "$@" --check-config >"$T/$_o.out" 2>&1
	CC_RC=$?
}
# says NAME TEXT: the output of check NAME has TEXT as a whole line (fixed string).
says() { grep -qxF -- "$2" "$T/$1.out"; }
# expect DESCRIPTION NAME LINE...: exit 2 and each LINE printed.
expect() {
	_d=$1; _o=$2; shift 2
	_ok=1
	[ "$CC_RC" -eq 2 ] || _ok=0
	for _l in "$@"; do says "$_o" "$_l" || _ok=0; done
	if [ "$_ok" -eq 1 ]; then pass "$_d"
	else fail "$_d: exit $CC_RC: $(cat "$T/$_o.out")"; fi
}

# --- a good file passes -----------------------------------------------------------
cat >"$T/good.json" <<EOF
{ "plugins": { "unix": { "connect_timeout_ms": 5000 }, "procnet": { "interval_ms": 500 } },
  "routes": [ { "name": "r", "listen": "unix://$T/r.sock", "connect": "tcp://127.0.0.1:9" } ] }
EOF
cc good --config "$T/good.json" --watch procnet,include=3000-9999
if [ "$CC_RC" -eq 0 ] && says good "brokerd: configuration OK ($T/good.json)"; then pass "a good file: configuration OK"
else fail "a good file: exit $CC_RC: $(cat "$T/good.json.out" "$T/good.out" 2>/dev/null)"; fi

# --- plugin options in the file -----------------------------------------------------
cat >"$T/opts.json" <<'EOF'
{ "plugins": { "unix": { "connect_timeout_msx": 5000 }, "tcp": { "connect_timeout_ms": "fast" },
               "nosuchplugin": { "a": 1 } } }
EOF
cc opts --config "$T/opts.json"
expect "file: unknown option, string for an integer, unknown plugin: each reported" opts \
	"brokerd: refused plugin unix: $T/opts.json: plugins.unix.connect_timeout_msx: unknown option (plugin unix has connect_timeout_ms, backlog; see brokerctl plugin help unix)" \
	"brokerd: refused plugin tcp: $T/opts.json: plugins.tcp.connect_timeout_ms: 'fast' is not an integer" \
	"brokerd: $T/opts.json: plugins.nosuchplugin: no plugin named 'nosuchplugin' is loaded (loaded: procnet; check the name and --plugin-dir)" \
	"brokerd: 3 problems in the configuration ($T/opts.json)"
if ! grep -q "configuration OK" "$T/opts.out"; then pass "... and no 'configuration OK'"
else fail "'configuration OK' printed for a bad file"; fi

# --- --watch names and options --------------------------------------------------------
cc watch --watch dokcer --watch procnet,bogus=1
# (procnet is refused for its bad option, so no watcher is left.)
expect "--watch: an unknown watcher and an unknown watcher option" watch \
	"brokerd: --watch dokcer: no watcher plugin named 'dokcer' is loaded (watchers: none; check the name and --plugin-dir)" \
	"brokerd: refused plugin procnet: --watch procnet,bogus=1: unknown option (plugin procnet has interval_ms, include, exclude, method, proc_dir; see brokerctl plugin help procnet)"
cc watchrange --watch procnet,interval_ms=0
expect "--watch: an integer out of the declared range" watchrange \
	"brokerd: refused plugin procnet: --watch procnet,interval_ms=0: 0 is outside 100..3600000"
cc notwatcher --watch unix
expect "--watch: a plugin that is not a watcher" notwatcher \
	"brokerd: --watch unix: plugin 'unix' is not a watcher (watchers: procnet)"
BROKER_WATCH=dokcer cc envwatch
expect "BROKER_WATCH names where the watch came from" envwatch \
	"brokerd: BROKER_WATCH: dokcer: no watcher plugin named 'dokcer' is loaded (watchers: procnet; check the name and --plugin-dir)"

# --- a config route whose scheme nobody serves ---------------------------------------
cat >"$T/route.json" <<'EOF'
{ "routes": [ { "name": "r", "listen": "tcpp://127.0.0.1:9", "connect": "unix:///x.sock" } ] }
EOF
cc route --config "$T/route.json"
expect "a config route with an unserved scheme" route \
	"brokerd: $T/route.json: routes[0] (r): tcpp://127.0.0.1:9: no plugin serves scheme 'tcpp'"

# --- a plugin dir that does not exist ----------------------------------------------
cc pdir --plugin-dir "$T/nope"
expect "a plugin dir that does not exist" pdir \
	"brokerd: plugin dir $T/nope: No such file or directory (check --plugin-dir / BROKER_PLUGIN_DIR)"

# --- the daemon says the same at start -------------------------------------------------
start_broker --plugin-dir "$PN" --config "$T/opts.json" --watch dokcer
for l in "plugins.unix.connect_timeout_msx: unknown option" "plugins.tcp.connect_timeout_ms: 'fast' is not an integer" \
	"plugins.nosuchplugin: no plugin named 'nosuchplugin' is loaded" "--watch dokcer: no watcher plugin named 'dokcer'"; do
	if grep -F -- "$l" "$BROKER_LOG" | grep -q " error "; then pass "daemon start logs an error: ...$l..."
	else fail "daemon start does not log '$l': $(grep -i "plugin" "$BROKER_LOG" | head -5)"; fi
done
stop_broker

# --- the link secret ------------------------------------------------------------------
printf '0123456789abcdef0123456789abcdef\n' >"$T/open.secret"
chmod 644 "$T/open.secret"
cc secret644 --link-connect "tcp://127.0.0.1:9" --link-secret "$T/open.secret"
expect "a link secret readable by others" secret644 \
	"brokerd: link secret: $T/open.secret: readable by others (mode 644); run chmod 600 $T/open.secret"
printf 'short\n' >"$T/short.secret"
chmod 600 "$T/short.secret"
cc secretshort --link-listen "tcp://127.0.0.1:9" --link-secret "$T/short.secret"
expect "a link secret that is too short" secretshort \
	"brokerd: link secret: $T/short.secret: secret must be 16..1024 bytes (it has 5)"
cc nolink --link-secret "$T/open.secret"
if [ "$CC_RC" -eq 0 ]; then pass "no link configured: the secret is not read, configuration OK"
else fail "no link configured: exit $CC_RC: $(cat "$T/nolink.out")"; fi

# Later messages keep the reason: B (bad secret) dials A over tcp, which requires auth.
printf '0123456789abcdef0123456789abcdef\n' >"$T/good.secret"
chmod 600 "$T/good.secret"
LP=$(free_port) || bail "no free port"
bstart A --link-listen "tcp://127.0.0.1:$LP" --link-secret "$T/good.secret"
bstart B --link-connect "tcp://127.0.0.1:$LP" --link-secret "$T/open.secret" --link-backoff-max 1
WHY="we have no secret: $T/open.secret: readable by others (mode 644); run chmod 600 $T/open.secret"
if wait_until 15 sh -c "'$BROKERCTL' --runtime-dir '$T/B' --json link status | grep -qF '$WHY'"; then
	pass "link status keeps the reason: ...$WHY"
else fail "link status: $(bctl B --json link status | tr '\n' ' ' | cut -c1-400)"; fi
sleep 2
n_reason=$(grep -c "peer requires authentication and $WHY" "$(blog B)")
n_old=$(grep -c "pass --link-secret" "$(blog B)")
if [ "$n_reason" -ge 2 ] && [ "$n_old" -eq 0 ]; then pass "every retry logs the real reason ($n_reason times), never 'pass --link-secret'"
else fail "retries: $n_reason with the reason, $n_old with 'pass --link-secret': $(grep -i secret "$(blog B)" | tail -3)"; fi
bstop B
bstop A
for l in "$T"/*.log; do sanitizer_clean "$l" || fail "sanitizer report in $l"; done
finish
