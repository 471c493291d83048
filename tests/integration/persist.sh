#!/bin/sh
# Routes added with brokerctl live in sqlite and come back after a restart;
# SIGTERM exits 0; startup names each listener and the state location.
. "$(dirname "$0")/lib.sh"
plan 13

serve echo echo "unix:$T/echo.sock"
port=$(free_port) || bail "no free port"

start_broker
add_route p-unix "unix://$T/in.sock" "unix://$T/echo.sock"
add_route p-tcp "tcp://127.0.0.1:$port" "unix://$T/echo.sock" --max-connections 5
"$XFER" send "unix:$T/in.sock" 1M --expect echo >"$T/s.out" 2>&1 ||
	fail "first run: traffic through p-unix: $(cat "$T/s.out")"
if command -v python3 >/dev/null 2>&1; then
	if ctl --json route list >"$T/json.out" 2>&1 &&
		python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/json.out" 2>/dev/null; then
		pass "brokerctl --json route list prints valid JSON"
	else
		fail "brokerctl --json route list: $(head -c 300 "$T/json.out")"
	fi
fi
stopped_ok
[ -f "$T/state/broker.db" ] && pass "state lives in STATE_DIR/broker.db" ||
	fail "no $T/state/broker.db after a run"

start_broker
check "after restart: p-unix listed" route_listed p-unix
check "after restart: p-tcp listed" route_listed p-tcp
if "$XFER" send "unix:$T/in.sock" 4M --expect echo >"$T/s.out" 2>&1; then
	pass "after restart: unix route relays"
else fail "after restart: unix route: $(cat "$T/s.out")"; fi
if "$XFER" send "tcp:127.0.0.1:$port" 4M --expect echo >"$T/s.out" 2>&1; then
	pass "after restart: tcp route relays"
else fail "after restart: tcp route: $(cat "$T/s.out")"; fi
if grep -q "$T/in.sock" "$BROKER_LOG" && grep -q "127.0.0.1:$port" "$BROKER_LOG"; then
	pass "startup log names each listener"
else fail "startup log does not name the listeners ($T/in.sock, 127.0.0.1:$port)"; fi
if grep -q "$T/state" "$BROKER_LOG"; then pass "startup log says where the state lives"
else fail "startup log does not mention the state dir $T/state"; fi

ctl route rm p-unix >"$T/ctl.out" 2>&1 || bail "route rm p-unix: $(cat "$T/ctl.out")"
stopped_ok
start_broker
if route_listed p-unix; then fail "route rm did not persist: p-unix is back after restart"
else pass "route rm persists across restart"; fi
check "p-tcp still listed after the second restart" route_listed p-tcp
stopped_ok
for l in "$T"/brokerd.*.log; do sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"; done
finish
