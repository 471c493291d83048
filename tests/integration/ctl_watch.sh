#!/bin/sh
# brokerctl watch prints the broker's events live: a mapping add shows up
# as a mapping.add line and --count 1 then exits 0; --timeout bounds the
# wait; a broker without an event feed is reported in one line.
. "$(dirname "$0")/lib.sh"
plan 8

# Manual mappings are exported to a peer: a link must be configured (no peer needs to come).
start_broker --link-listen "unix://$T/link.sock"

[ -S "$T/run/events.sock" ] || bail "brokerd did not create its event feed $T/run/events.sock"

# watch_for N ARGS...: start `brokerctl watch ARGS` in the background; sets WATCH_PID.
watch_for() {
	_n=$1; shift
	# brokerctl itself, not the ctl() shell function: $! must be its pid so signals reach it.
	"$BROKERCTL" --runtime-dir "$T/run" watch "$@" >"$T/watch$_n.out" 2>"$T/watch$_n.err" &
	WATCH_PID=$!
	record "$WATCH_PID"
}

# 1. A mapping add is printed and --count 1 exits 0.  The subscriber may
# attach a moment after it starts, so add a fresh port until the watch has
# seen one (each add is a new mapping, so the first event is a mapping.add).
port=$(free_port) || bail "no free port"
watch_for 1 --count 1 --timeout 10 mapping.
i=0
while alive "$WATCH_PID" && [ "$i" -lt 20 ]; do
	ctl mapping add "$((port + i))" --connect 127.0.0.1:80 --owner "w$i" >/dev/null 2>&1 ||
		fail "mapping add $((port + i)) failed"
	i=$((i + 1))
	wait_until 1 sh -c "! kill -0 $WATCH_PID 2>/dev/null || test -s '$T/watch1.out'"
done
if wait_exit "$WATCH_PID" 12 && [ "$WAIT_RC" -eq 0 ]; then pass "watch --count 1 exits 0 after one event"
else fail "watch --count 1: still running or exit ${WAIT_RC:-?} ($(cat "$T/watch1.err"))"; fi
if [ "$(grep -c . "$T/watch1.out")" -eq 1 ] && grep -Eq "^[0-9-]{10}T[0-9:.]{12}Z mapping\.add local manual/w[0-9]+: tcp 0\.0\.0\.0:[0-9]+ -> 127\.0\.0\.1:80: exported\$" "$T/watch1.out"; then
	pass "watch printed the mapping.add event: $(cat "$T/watch1.out")"
else fail "watch output: $(head -c 400 "$T/watch1.out")"; fi

# 2. --json: one object per line, filtered by topic.
watch_for 2 --json --count 1 --timeout 10 mapping.remove
i=0
while alive "$WATCH_PID" && [ "$i" -lt 10 ]; do
	ctl mapping add 18200 --connect 127.0.0.1:80 --owner "j$i" >/dev/null 2>&1
	ctl mapping rm "j$i" >/dev/null 2>&1
	i=$((i + 1))
	wait_until 1 sh -c "! kill -0 $WATCH_PID 2>/dev/null"
done
wait_exit "$WATCH_PID" 12 || bail "watch --json did not exit"
if command -v python3 >/dev/null 2>&1; then
	if python3 - "$T/watch2.out" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
e = json.loads(lines[0])
assert e["kind"] == "mapping.remove", e
assert e["mapping"]["source"] == "manual" and e["mapping"]["owner"].startswith("j"), e
PY
	then pass "watch --json mapping.remove: $(cat "$T/watch2.out")"
	else fail "watch --json: $(head -c 400 "$T/watch2.out")"; fi
else
	grep -q '"kind":"mapping.remove"' "$T/watch2.out" && pass "watch --json mapping.remove" ||
		fail "watch --json: $(head -c 400 "$T/watch2.out")"
fi

# 3. --timeout: nothing on a topic nobody publishes.
ctl watch --timeout 1 no.such.topic. >"$T/out" 2>"$T/err"
_rc=$?
if [ "$_rc" -eq 1 ] && grep -q "^brokerctl: no event within 1 s\$" "$T/err"; then pass "watch --timeout: $(cat "$T/err")"
else fail "watch --timeout: exit $_rc, stderr: $(head -c 200 "$T/err")"; fi

# 4. SIGTERM and SIGINT end a watch with status 0.
for sig in TERM INT; do
	watch_for 3
	sleep 0.5
	kill -"$sig" "$WATCH_PID"
	if wait_exit "$WATCH_PID" 5 && [ "$WAIT_RC" -eq 0 ]; then pass "watch exits 0 on SIG$sig"
	else fail "watch on SIG$sig: exit ${WAIT_RC:-still running}"; fi
done

stopped_ok
# 5. Broker gone: one line naming the socket.
ctl watch --timeout 1 >"$T/out" 2>"$T/err"
_rc=$?
if [ "$_rc" -eq 1 ] && grep -q "^brokerctl: broker not running: no event socket at $T/run/events.sock\$" "$T/err"; then
	pass "watch with no broker: $(cat "$T/err")"
else fail "watch with no broker: exit $_rc, stderr: $(head -c 200 "$T/err")"; fi
sanitizer_clean "$BROKER_LOG" || fail "sanitizer report in the broker log"
finish
