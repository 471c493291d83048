#!/bin/sh
# Every brokerctl error prints one line "brokerctl: <reason>" and exits
# non-zero; usage errors exit 2; a failed command changes nothing.
# Every die() of ctl/brokerctl.c is reached here word for word, and the
# reachable ones of ctl/session.c and ctl/cmd_watch.c: no broker, a stale
# socket, a runtime dir that is a file, permission denied, the broker's own
# refusals, and a broker that does not answer within --timeout.  (Left out:
# out of memory and NNG failing to open or configure a socket of its own.)
. "$(dirname "$0")/lib.sh"
plan 63

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
# expect_usage DESC MESSAGE CMD...: exit status 2 and exactly the one
# stderr line "brokerctl: MESSAGE" (fixed string), nothing on stdout.
expect_usage() {
	_d=$1; _m=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	_rc=$?
	if [ "$_rc" -eq 2 ] && [ "$(cat "$T/err")" = "brokerctl: $_m" ] && [ ! -s "$T/out" ]; then
		pass "usage: $_d (exit 2: $_m)"
	else fail "usage: $_d: exit $_rc, stderr: $(head -c 200 "$T/err"), want 'brokerctl: $_m'"; fi
}
# expect_exact DESC MESSAGE CMD...: exit status 1 and exactly "brokerctl: MESSAGE".
expect_exact() {
	_d=$1; _m=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	_rc=$?
	if [ "$_rc" -eq 1 ] && [ "$(cat "$T/err")" = "brokerctl: $_m" ]; then pass "$_d (exit 1: $_m)"
	else fail "$_d: exit $_rc, stderr: $(head -c 200 "$T/err"), want 'brokerctl: $_m'"; fi
}

# --- every usage error (before any connection is made) ---
B="$BROKERCTL"
expect_usage "option without its value" "--timeout needs a value (see brokerctl --help)" "$B" --timeout
expect_usage "empty --runtime-dir" "--runtime-dir: empty directory name" "$B" --runtime-dir= status
expect_usage "--timeout not a number" "--timeout: 'abc' is not a number of seconds between 0 and 86400" \
	"$B" --timeout abc status
expect_usage "--timeout 0" "--timeout: '0' is not a number of seconds between 0 and 86400" "$B" --timeout 0 status
expect_usage "--count 0" "--count: '0' is not a number of events (1 or more)" "$B" watch --count 0
expect_usage "too many words after --" "too many arguments (see brokerctl --help)" "$B" -- route add a b c
expect_usage "too many words" "too many arguments (see brokerctl --help)" "$B" route add a b c
expect_usage "status with an argument" "status: unexpected argument 'extra' (see brokerctl --help)" "$B" status extra
expect_usage "--listen on route list" "route list: --listen, --connect and --max-connections only go with route add" \
	"$B" route list --listen unix:///x
expect_usage "--max-connections on mapping list" "mapping list: --listen and --max-connections only go with route add" \
	"$B" mapping list --max-connections 3
expect_usage "--connect on mapping rm" "mapping rm: --connect only goes with route add and mapping add" \
	"$B" mapping rm x --connect 1.2.3.4:5
expect_usage "--owner on route list" "route list: --proto, --host-ip, --owner and --description only go with mapping add" \
	"$B" route list --owner x
expect_usage "mapping add without --connect" "mapping add: needs --connect HOST:PORT (repeat it for more addresses)" \
	"$B" mapping add 8080
_many=""
for _i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do _many="$_many --connect 127.0.0.1:$_i"; done
# shellcheck disable=SC2086
expect_usage "17 --connect addresses" "mapping add: at most 16 --connect addresses (got 17)" "$B" mapping add 8080 $_many
expect_usage "--count on status" "status: --count only goes with watch" "$B" status --count 2
expect_usage "mapping add: PORT not a number" "mapping add: PORT 'x' is not a port number (1-65535)" \
	"$B" mapping add x --connect 1.2.3.4:5
expect_usage "link without a subcommand" "link: missing subcommand (use: link status)" "$B" link
expect_usage "link with an unknown subcommand" "link: unknown subcommand (use: link status)" "$B" link foo
expect_usage "unknown plugin subcommand" "plugin: unknown subcommand 'frob' (use list, help, load, unload)" "$B" plugin frob
expect_usage "route rm with an empty NAME" "route rm: empty NAME" "$B" route rm ''
expect_usage "plugin load with an empty PATH" "plugin load: empty PATH" "$B" plugin load ''

# --- no broker, or something else where its sockets should be ---
mkdir -p "$T/stale"
python3 -c '
import socket, sys
for n in ("ctl.sock", "events.sock"):
    s = socket.socket(socket.AF_UNIX)
    s.bind(sys.argv[1] + "/" + n)
    s.close()
' "$T/stale" || bail "cannot make stale sockets"
expect_exact "stale ctl.sock" "broker not running at $T/stale/ctl.sock (stale socket)" \
	"$B" --runtime-dir "$T/stale" status
expect_exact "watch: stale events.sock" "broker not running at $T/stale/events.sock (stale socket)" \
	"$B" --runtime-dir "$T/stale" watch
expect_exact "watch: no broker" "broker not running: no event socket at $T/run/events.sock" \
	"$B" --runtime-dir "$T/run" watch
: >"$T/notadir"
expect_exact "runtime dir is a file" "$T/notadir/ctl.sock: Not a directory" "$B" --runtime-dir "$T/notadir" status
expect_exact "watch: runtime dir is a file" "$T/notadir/events.sock: Not a directory" "$B" --runtime-dir "$T/notadir" watch

# A "broker" that accepts, speaks NNG's handshake (REP) and never answers:
# brokerctl gives up after --timeout, says so, and does not hang.
mkdir -p "$T/mute"
python3 - "$T/mute/ctl.sock" "$T/mute.ready" >"$T/mute.log" 2>&1 <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o600)
s.listen(8)
open(sys.argv[2], "w").write("ready\n")
held = []
s.settimeout(0.2)
end = time.time() + 120
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(2)
    try:
        c.recv(8)
        c.sendall(bytes([0, ord("S"), ord("P"), 0, 0, 0x31, 0, 0]))  # REP0: then silence
    except OSError:
        pass
    held.append(c)
PY
record $!
wait_until 10 test -s "$T/mute.ready" || bail "the mute server did not start: $(cat "$T/mute.log")"
_t0=$(date +%s%N)
expect_exact "a broker that does not answer within --timeout 1" "broker did not answer within 1 s" \
	"$B" --runtime-dir "$T/mute" --timeout 1 status
_ms=$((($(date +%s%N) - _t0) / 1000000))
if [ "$_ms" -ge 1000 ] && [ "$_ms" -lt 8000 ]; then pass "... it gave up after $_ms ms (--timeout 1)"
else fail "... it gave up after $_ms ms with --timeout 1 (want 1000..7999)"; fi
expect_exact "a broker that does not answer within --timeout 1.5" "broker did not answer within 1.5 s" \
	"$B" --runtime-dir "$T/mute" --timeout 1.5 route list

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

expect_usage "no command" "missing command (see brokerctl --help)" "$BROKERCTL" --runtime-dir "$T/run"
expect_usage "unknown command" "unknown command 'frobnicate' (see brokerctl --help)" ctl frobnicate
# autostart registers a Windows logon task; on Linux it points at systemd (exit 2, no broker needed).
expect_usage "autostart on Linux" "autostart status: autostart registers a Windows logon task; here let systemd start brokerd: systemctl --user enable --now brokerd (or, as root, systemctl enable --now brokerd)" "$B" autostart status
expect_usage "autostart without a subcommand" "autostart: missing subcommand (enable, disable, status)" "$B" autostart
expect_usage "unknown option" "unknown option --no-such-flag (see brokerctl --help)" "$BROKERCTL" --no-such-flag status
expect_usage "route with no subcommand" "route: missing subcommand (list, add, rm)" ctl route
expect_usage "route add without NAME" "route add: missing NAME (see brokerctl --help)" ctl route add
expect_usage "route add without --connect" "route add: needs --listen URL and --connect URL" \
	ctl route add r3 --listen "unix://$T/r3.sock"
expect_usage "route add --max-connections not a number" "--max-connections: 'lots' is not a count (0 means unlimited)" \
	ctl route add r3 --listen "unix://$T/r3.sock" --connect "unix://$T/echo.sock" --max-connections lots
expect_usage "route rm without NAME" "route rm: missing NAME (see brokerctl --help)" ctl route rm

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
