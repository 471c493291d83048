#!/bin/sh
# tests/integration/quickstart.sh - the README's first steps, followed as a
# new user would (issue 16, items 6, 8 and the quick start's output):
#   scripts/start, with this build's binaries (START_BUILD_DIR), run as an
#     ordinary user (nobody, with its own HOME and XDG_RUNTIME_DIR under $T,
#     so the defaults are the test's): it prints one line, as the README
#     says; the route answers curl; its state directory is its own and is
#     gone after it stops; a plain brokerd started afterwards on the same
#     defaults has no demo route and leaves the port free; with that
#     broker running, scripts/start refuses (its route would go into it);
#   "Using it" from the build tree: the README's two lines, run in the build
#     directory, put this build's brokerd and brokerctl on PATH, and a plain
#     brokerd loads the build's plugins.
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
plan 13

for t in setpriv socat curl; do
	command -v "$t" >/dev/null 2>&1 || bail "$t not installed (scripts/bootstrap installs it)"
done
id nobody >/dev/null 2>&1 || bail "no user nobody"
[ "$(id -u)" -eq 0 ] || bail "needs root, to run scripts/start as nobody"

# nobody's world: its HOME (default state dir ~/.local/state/broker) and runtime dir.
chmod 711 "$T"
mkdir -p -m 700 "$T/home" "$T/xdg"
chown nobody "$T/home" "$T/xdg"
NOBODY_ENV="env HOME=$T/home XDG_RUNTIME_DIR=$T/xdg TMPDIR=$T/home XDG_STATE_HOME="
# shellcheck disable=SC2086
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups $NOBODY_ENV "$@"; }
P=$(free_port) || bail "no free port"
RUN="$T/xdg/broker"

# --- scripts/start ---------------------------------------------------------------
# Started directly (not through the function), so $! is the script's own pid.
# shellcheck disable=SC2086
setpriv --reuid=nobody --regid=nogroup --clear-groups $NOBODY_ENV PORT="$P" START_BUILD_DIR="$top_builddir" \
	sh "$top_srcdir/scripts/start" >"$T/start.out" 2>&1 &
SPID=$!
record "$SPID"
want="broker: route hello: tcp://127.0.0.1:$P -> unix://$RUN/hello.sock  (try: curl http://127.0.0.1:$P/ ; brokerctl route list)"
if wait_until 30 grep -qxF "$want" "$T/start.out"; then pass "scripts/start says where the demo route is"
else fail "scripts/start printed: $(cat "$T/start.out")"; fi
hello() { curl -sf -m 5 "http://127.0.0.1:$P/" | grep -qx "hello through broker"; }
check "curl through the demo route answers" wait_until 10 hello
n=$(wc -l <"$T/start.out")
if [ "$n" -eq 1 ]; then pass "it printed one line, as the README says"
else fail "it printed $n lines: $(cat "$T/start.out")"; fi
as_nobody "$BROKERCTL" --runtime-dir "$RUN" status >"$T/status.out" 2>&1
demo_state=$(awk '/^state dir/ { print $3 }' "$T/status.out")
# The demo's brokerd is the script's child: ours to clean up too if the script fails to.
record "$(awk '/^brokerd / { sub(",", "", $4); print $4 }' "$T/status.out")"
case $demo_state in
"$T"/home/broker-start.*) pass "the demo's state directory is its own: $demo_state" ;;
*) fail "the demo's state directory is '$demo_state', not one of its own: $(cat "$T/status.out")" ;;
esac
kill -TERM "$SPID" 2>/dev/null
if wait_exit "$SPID" 30; then pass "scripts/start stops on SIGTERM (as on Ctrl-C)"
else fail "scripts/start still running 30 s after SIGTERM"; kill -KILL "$SPID" 2>/dev/null; fi
if [ -n "$demo_state" ] && [ ! -e "$demo_state" ]; then pass "the demo's state directory is gone"
else fail "the demo's state directory is still there: '$demo_state'"; fi

# A plain brokerd afterwards, on nobody's defaults: no demo route, the port is free.
# shellcheck disable=SC2086
setpriv --reuid=nobody --regid=nogroup --clear-groups $NOBODY_ENV "$BROKERD" $PLUGIN_ARGS >"$T/plain.log" 2>&1 &
PPID_=$!
record "$PPID_"
wait_until 15 as_nobody "$BROKERCTL" --runtime-dir "$RUN" status || bail "the plain brokerd did not come up: $(tail -n 3 "$T/plain.log")"
as_nobody "$BROKERCTL" --runtime-dir "$RUN" route list >"$T/routes.out" 2>&1
if ! grep -qw hello "$T/routes.out"; then pass "a later plain brokerd has no demo route"
else fail "a later plain brokerd restored the demo route: $(cat "$T/routes.out")"; fi
if ! ss -Hltn "sport = :$P" 2>/dev/null | grep -q .; then pass "and port $P is free"
else fail "port $P is still served after the demo: $(ss -Hltnp "sport = :$P")"; fi
# With that broker running, the demo refuses to start: its route would go into it.
# shellcheck disable=SC2086
setpriv --reuid=nobody --regid=nogroup --clear-groups $NOBODY_ENV PORT="$P" START_BUILD_DIR="$top_builddir" \
	sh "$top_srcdir/scripts/start" >"$T/start2.out" 2>&1 &
SPID2=$!
record "$SPID2"
if wait_exit "$SPID2" 30 && [ "$WAIT_RC" -ne 0 ] &&
	grep -qF "start: a brokerd already runs on $RUN (pid $PPID_): stop it first" "$T/start2.out"; then
	pass "scripts/start refuses to run beside a running brokerd, naming it"
else fail "scripts/start beside a running brokerd: $(cat "$T/start2.out")"; fi
as_nobody "$BROKERCTL" --runtime-dir "$RUN" route list >"$T/routes2.out" 2>&1
if ! grep -qw hello "$T/routes2.out"; then pass "and added no route to that brokerd"
else fail "scripts/start added its route to the running brokerd: $(cat "$T/routes2.out")"; fi
kill -TERM "$PPID_" 2>/dev/null
wait_exit "$PPID_" 20 || kill -KILL "$PPID_" 2>/dev/null

# --- README, "Using it": running from the build tree ------------------------------
# The first sh block after "from the build tree", as the README has it.
awk '/from the build tree/ { f = 1 } f && /^```sh$/ { b = 1; next } b && /^```$/ { exit } b { print }' \
	"$top_srcdir/README.md" >"$T/tree.sh"
if [ -s "$T/tree.sh" ]; then pass "the README says how to run from the build tree: $(tr '\n' ' ' <"$T/tree.sh")"
else fail "no 'from the build tree' block in README.md"; fi
mkdir -p -m 700 "$T/tr-run" "$T/tr-state"
(
	cd "$top_builddir" || exit 1
	. "$T/tree.sh"
	command -v brokerd >"$T/which.out"
	command -v brokerctl >>"$T/which.out"
	exec brokerd --runtime-dir "$T/tr-run" --state-dir "$T/tr-state"
) >"$T/tree.log" 2>&1 &
TPID=$!
record "$TPID"
ctl_tree() { "$BROKERCTL" --runtime-dir "$T/tr-run" "$@"; }
wait_until 15 ctl_tree status >/dev/null 2>&1
if [ "$(cat "$T/which.out" 2>/dev/null)" = "$top_builddir/broker/brokerd
$top_builddir/ctl/brokerctl" ]; then pass "brokerd and brokerctl on PATH are this build's"
else fail "on PATH: $(cat "$T/which.out" 2>/dev/null | tr '\n' ' ')"; fi
ctl_tree plugin list >"$T/plugins.out" 2>&1
if grep -qw unix "$T/plugins.out" && grep -qw tcp "$T/plugins.out" && grep -qw exec "$T/plugins.out"; then
	pass "the build-tree brokerd loaded the build's plugins (unix, tcp, exec)"
else fail "plugins of the build-tree brokerd: $(cat "$T/plugins.out") log: $(tail -n 3 "$T/tree.log")"; fi
finish
