#!/bin/sh
# tests/integration/url_params.sh - the core checks each plugin's declared
# URL parameters (broker-plugin(7), url_params), so a typo is refused with
# the parameters the plugin takes instead of turning into a silent default:
#
#   unix:///x.sock?mod=0660 (mode misspelled), tcp://...?foo=1, ?backlog= on
#   a connect URL, exec:CMD?x are refused at route add; nothing is stored;
#   the spelled-right ?mode=0660 gives a 0660 socket;
#   the LISTEN column of route list shows the parameters (?netns=, ?mode=);
#   --check-config reports a config route's bad parameter;
#   plugin help lists a plugin's URL parameters;
#   a link carrier's own ?auth= still works (the core reads it, not the plugin);
#   plugin load with a relative path: brokerctl sends the absolute path of
#   the file it sees, and a path that is not there is refused with a hint.
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
plan 21

EX="$top_builddir/plugins/exec/.libs"
TP="$top_builddir/tests/plugins/.libs"
[ -e "$EX/exec.so" ] || bail "exec plugin not built"
[ -e "$TP/example.so" ] || bail "example plugin not built (make check)"
command -v jq >/dev/null 2>&1 || bail "jq not installed (scripts/bootstrap installs it)"
[ "$(id -u)" -eq 0 ] && command -v ip >/dev/null 2>&1 || bail "needs root and ip (iproute2) for a network namespace"
serve echo echo "unix:$T/echo.sock"

start_broker --plugin-dir "$EX"

# refused DESCRIPTION EXPECTED-STDERR ARGS...: brokerctl ARGS exits 1 with exactly that line.
refused() {
	_d=$1; _e=$2; shift 2
	ctl "$@" >"$T/out" 2>"$T/err"
	_rc=$?
	if [ "$_rc" -eq 1 ] && [ "$(cat "$T/err")" = "$_e" ]; then pass "$_d: $_e"
	else fail "$_d: exit $_rc, stderr: $(cat "$T/err"); expected: $_e"; fi
}

refused "unix ?mod= (misspelled)" \
	"brokerctl: route add a: unix://$T/a.sock?mod=0660: unknown parameter 'mod' (unix takes mode, group when listening)" \
	route add a --listen "unix://$T/a.sock?mod=0660" --connect "unix://$T/echo.sock"
check "... nothing listens on a.sock" test ! -e "$T/a.sock"
refused "tcp ?foo=1" \
	"brokerctl: route add b: tcp://127.0.0.1:0?foo=1: unknown parameter 'foo' (tcp takes backlog, netns when listening)" \
	route add b --listen "tcp://127.0.0.1:0?foo=1" --connect "unix://$T/echo.sock"
refused "?backlog= on a connect URL" \
	"brokerctl: route add c: tcp://127.0.0.1:9?backlog=3: parameter 'backlog' applies when listening, not when connecting" \
	route add c --listen "unix://$T/c.sock" --connect "tcp://127.0.0.1:9?backlog=3"
refused "?mode= on a unix connect URL" \
	"brokerctl: route add d: unix://$T/echo.sock?mode=0600: parameter 'mode' applies when listening, not when connecting" \
	route add d --listen "unix://$T/d.sock" --connect "unix://$T/echo.sock?mode=0600"
refused "exec takes only ?env= (a '?' in a command is %3F)" \
	"brokerctl: route add e: exec:echo hi?x=1: unknown parameter 'x' (exec takes env when connecting)" \
	route add e --listen "unix://$T/e.sock" --connect "exec:echo hi?x=1"
if [ "$(ctl route list)" = "no routes (add one with: brokerctl route add NAME --listen URL --connect URL)" ]; then
	pass "nothing was stored for the refused routes"
else fail "routes after refusals: $(ctl route list)"; fi

# The right spelling works, and the LISTEN column keeps the parameters.
add_route m "unix://$T/m.sock?mode=0660" "unix://$T/echo.sock"
if [ "$(stat -c %a "$T/m.sock" 2>/dev/null)" = 660 ]; then pass "?mode=0660 gives a 0660 socket"
else fail "m.sock mode: $(stat -c %a "$T/m.sock" 2>&1)"; fi
check "m relays" "$XFER" send "unix:$T/m.sock" 64K --expect echo
# exec declares ?env= (the variables its child gets beyond the minimal set).
add_route v "unix://$T/v.sock" "exec:cat?env=LANG,LC_*"
check "exec:cat?env=LANG,LC_* is accepted and relays" "$XFER" send "unix:$T/v.sock" 64K --expect echo
add_route k "tcp://127.0.0.1:0?backlog=7" "unix://$T/echo.sock"
ctl route list >"$T/list.out" 2>&1
if awk -v t="$T" '$1 == "m" && $2 == "unix://" t "/m.sock?mode=0660" { f = 1 } END { exit !f }' "$T/list.out"; then
	pass "LISTEN shows ?mode=0660"
else fail "LISTEN for m: $(cat "$T/list.out")"; fi
if awk '$1 == "k" && $2 ~ /^tcp:\/\/127\.0\.0\.1:[1-9][0-9]*\?backlog=7$/ { f = 1 } END { exit !f }' "$T/list.out"; then
	pass "LISTEN shows the resolved port and ?backlog=7: $(awk '$1 == "k" { print $2 }' "$T/list.out")"
else fail "LISTEN for k: $(cat "$T/list.out")"; fi
NS="brk-url-$$"
ip netns add "$NS" || bail "ip netns add $NS failed"
at_exit "ip netns del $NS 2>/dev/null"
ip -n "$NS" link set lo up
add_route n "tcp://127.0.0.1:0?netns=$NS" "unix://$T/echo.sock"
ctl route list >"$T/list.out" 2>&1
if awk -v ns="$NS" '$1 == "n" && $2 ~ ("^tcp://127\\.0\\.0\\.1:[1-9][0-9]*\\?netns=" ns "$") { f = 1 } END { exit !f }' "$T/list.out"; then
	pass "LISTEN shows ?netns=$NS: $(awk '$1 == "n" { print $2 }' "$T/list.out")"
else fail "LISTEN for n: $(cat "$T/list.out")"; fi
np=$(awk '$1 == "n" { print $2 }' "$T/list.out" | sed 's/.*:\([0-9]*\)?.*/\1/')
check "n listens inside $NS (a client there is echoed)" ip netns exec "$NS" "$XFER" send "tcp:127.0.0.1:$np" 4K --expect echo

# plugin help lists the URL parameters.
ctl plugin help unix >"$T/help.out" 2>&1
if grep -qx "URL parameters:" "$T/help.out" && grep -qx "  ?mode= (listen)" "$T/help.out" && grep -qx "  ?group= (listen)" "$T/help.out"; then
	pass "plugin help unix lists ?mode= and ?group="
else fail "plugin help unix: $(cat "$T/help.out")"; fi
ctl --json plugin help tcp >"$T/help.json" 2>&1
if jq -e '.url_params == [{"key": "backlog", "where": "listen", "scheme": "tcp", "help": .url_params[0].help},
                          {"key": "netns", "where": "listen, connect", "scheme": null, "help": .url_params[1].help}]' "$T/help.json" >/dev/null; then
	pass "plugin help --json tcp: url_params"
else fail "plugin help --json tcp: $(cat "$T/help.json")"; fi

# plugin load: relative paths.
(cd "$TP" && "$BROKERCTL" --runtime-dir "$T/run" plugin load example.so) >"$T/load.out" 2>&1
if grep -qx "loaded echo 1.0 from $TP/example.so" "$T/load.out"; then pass "plugin load example.so from its dir: the absolute path is sent"
else fail "relative plugin load: $(cat "$T/load.out")"; fi
refused "plugin load of a relative path that is not here" \
	"brokerctl: plugin load: nothere.so: a relative path; give the plugin file's absolute path (the broker opens it, not brokerctl, and its working directory is not yours)" \
	plugin load nothere.so
refused "echo takes no parameters" \
	"brokerctl: route add x: echo:x?y=1: unknown parameter 'y' (echo takes none when connecting; a literal '?' in the address is written %3F)" \
	route add x --listen "unix://$T/x.sock" --connect "echo:x?y=1"
stopped_ok

# --check-config reports a config route's unknown parameter.
cat >"$T/conf.json" <<EOF
{ "routes": [ { "name": "r", "listen": "unix://$T/r.sock?mod=0660", "connect": "unix://$T/echo.sock" } ] }
EOF
# shellcheck disable=SC2086
"$BROKERD" --runtime-dir "$T/cc" --state-dir "$T/cc" $PLUGIN_ARGS --config "$T/conf.json" --check-config >"$T/cc.out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -qxF "brokerd: $T/conf.json: routes[0] (r): unix://$T/r.sock?mod=0660: unknown parameter 'mod' (unix takes mode, group when listening)" "$T/cc.out"; then
	pass "--check-config: a config route's unknown parameter"
else fail "--check-config: exit $rc: $(cat "$T/cc.out")"; fi
sanitizer_clean "$BROKER_LOG" || fail "sanitizer report in the broker log"
finish
