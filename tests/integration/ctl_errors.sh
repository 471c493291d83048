#!/bin/sh
# Every brokerctl error prints one line "brokerctl: <reason>" and exits
# non-zero; usage errors exit 2; a failed command changes nothing.
. "$(dirname "$0")/lib.sh"
plan 32

# expect_error DESC REGEX CMD...: non-zero, exactly one stderr line starting
# "brokerctl: " that matches the extended REGEX (case-insensitive).
expect_error() {
	_d=$1; _re=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	_rc=$?
	_lines=$(grep -c . "$T/err")
	if [ "$_rc" -eq 0 ]; then
		fail "$_d: exit status 0 (stderr: $(cat "$T/err"))"
	elif [ "$_lines" -ne 1 ] || ! grep -q '^brokerctl: ' "$T/err"; then
		fail "$_d: want one line 'brokerctl: <reason>' on stderr, got $_lines: $(head -c 300 "$T/err")"
	elif ! grep -Eqi -- "$_re" "$T/err"; then
		fail "$_d: reason does not match /$_re/: $(cat "$T/err")"
	else
		pass "$_d (exit $_rc: $(cat "$T/err"))"
	fi
}
# expect_usage DESC CMD...: exit status 2 and something on stderr.
expect_usage() {
	_d=$1; shift
	"$@" >"$T/out" 2>"$T/err"
	_rc=$?
	if [ "$_rc" -eq 2 ] && [ -s "$T/err" ]; then pass "usage: $_d (exit 2)"
	else fail "usage: $_d: exit $_rc, stderr: $(head -c 200 "$T/err")"; fi
}

# --- no broker yet ---
expect_error "status with no broker running" 'not running|no broker|is brokerd running' \
	"$BROKERCTL" --runtime-dir "$T/run" status
expect_error "route list with no broker running" 'not running|no broker|is brokerd running' \
	env BROKER_RUNTIME_DIR="$T/run" "$BROKERCTL" route list

start_broker
serve echo echo "unix:$T/echo.sock"
serve busy echo "tcp:127.0.0.1:0"
BUSY=$(xfer_url "$SERVE_ADDR")

check "BROKER_RUNTIME_DIR finds the broker" env BROKER_RUNTIME_DIR="$T/run" "$BROKERCTL" status
add_route r1 "unix://$T/r1.sock" "unix://$T/echo.sock"

expect_error "route add: name taken" 'r1.*(exist|taken|already|in use|duplicate)|(exist|taken|already|in use|duplicate).*r1' \
	ctl route add r1 --listen "unix://$T/other.sock" --connect "unix://$T/echo.sock"
expect_error "route add: relative unix path" 'unix://relative' \
	ctl route add r2 --listen "unix://relative/x.sock" --connect "unix://$T/echo.sock"
expect_error "route add: port out of range" '99999' \
	ctl route add r2 --listen "tcp://127.0.0.1:99999" --connect "unix://$T/echo.sock"
expect_error "route add: not a URL" 'not-a-url' \
	ctl route add r2 --listen "not-a-url" --connect "unix://$T/echo.sock"
expect_error "route add: unknown scheme" 'bogus' \
	ctl route add r2 --listen "bogus:///x" --connect "unix://$T/echo.sock"
expect_error "route add: bad mode" 'mode' \
	ctl route add r2 --listen "unix://$T/r2.sock?mode=banana" --connect "unix://$T/echo.sock"
expect_error "route add: listen socket already in use by another route" 'use|exist|already|live' \
	ctl route add r2 --listen "unix://$T/r1.sock" --connect "unix://$T/echo.sock"
expect_error "route add: tcp port in use" 'in use|already|address' \
	ctl route add r2 --listen "$BUSY" --connect "unix://$T/echo.sock"
expect_error "route rm: no such route" 'nosuch' ctl route rm nosuch
expect_error "plugin help: unknown plugin" 'nosuch' ctl plugin help nosuch
expect_error "plugin load: missing file" '/nonexistent/x.so' ctl plugin load /nonexistent/x.so
expect_error "plugin load: not a shared object" 'echo\.log|invalid|elf' \
	ctl plugin load "$T/echo.log"
expect_error "plugin unload: unknown plugin" 'nosuch' ctl plugin unload nosuch

expect_usage "no command" "$BROKERCTL" --runtime-dir "$T/run"
expect_usage "unknown command" ctl frobnicate
expect_usage "unknown option" "$BROKERCTL" --no-such-flag status
expect_usage "route with no subcommand" ctl route
expect_usage "route add without NAME" ctl route add
expect_usage "route add without --connect" ctl route add r3 --listen "unix://$T/r3.sock"
expect_usage "route add --max-connections not a number" \
	ctl route add r3 --listen "unix://$T/r3.sock" --connect "unix://$T/echo.sock" --max-connections lots
expect_usage "route rm without NAME" ctl route rm

if route_listed r2 || route_listed r3; then fail "a failed route add left a route behind"
else pass "failed route adds left nothing behind"; fi
check "r1 still relays" "$XFER" send "unix:$T/r1.sock" 64K --expect echo

# Permission denied: the control socket is 0600 and belongs to the broker's
# user.  As root every socket is ours, so the client runs as 'nobody'
# (setpriv) with the directories on the way opened for traversal only; as
# an ordinary user, the socket's mode is taken away instead.  Same one check
# either way.
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null 2>&1 || bail "setpriv (util-linux) not installed"
	chmod 0711 "$T" "$T/run"
	expect_error "permission denied on ctl.sock (as nobody)" "permission denied on $T/run/ctl.sock" \
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$BROKERCTL" --runtime-dir "$T/run" status
	chmod 0700 "$T" "$T/run"
else
	chmod 000 "$T/run/ctl.sock"
	expect_error "permission denied on ctl.sock" "permission denied on $T/run/ctl.sock" ctl status
	chmod 600 "$T/run/ctl.sock"
fi

# A second broker on the same runtime dir refuses with a clear message and
# leaves the first one serving.
mkdir -p "$T/state2"
"$BROKERD" --runtime-dir "$T/run" --state-dir "$T/state2" $PLUGIN_ARGS >"$T/second.log" 2>&1 &
pid2=$!
record "$pid2"
if wait_exit "$pid2" 15; then
	if [ "$WAIT_RC" -ne 0 ] && grep -Eqi 'already|in use|running|locked' "$T/second.log"; then
		pass "second brokerd on the same runtime dir refuses: $(grep -Ei 'already|in use|running|locked' "$T/second.log" | head -n 1)"
	else
		fail "second brokerd on the same runtime dir: exit $WAIT_RC, log: $(tail -n 3 "$T/second.log")"
	fi
else
	fail "second brokerd on the same runtime dir is still running after 15 s"
	kill -TERM "$pid2"
fi
check "first broker still answers after the second one tried" ctl_ok
check "first broker still relays" "$XFER" send "unix:$T/r1.sock" 64K --expect echo

stopped_ok
check "no sanitizer report in the broker log" sanitizer_clean "$BROKER_LOG"
finish
