#!/bin/sh
# 200 concurrent connections through one route, each an echo round trip
# with its own checksummed stream.
. "$(dirname "$0")/lib.sh"
plan 6

start_broker
serve echo echo "unix:$T/echo.sock"
add_route many "unix://$T/in.sock" "unix://$T/echo.sock"
port=$(free_port) || bail "no free port"
add_route many-tcp "tcp://127.0.0.1:$port" "unix://$T/echo.sock"

if "$XFER" concurrent "unix:$T/in.sock" 200 256K >"$T/c1.out" 2>&1; then
	pass "unix: $(tail -n 1 "$T/c1.out")"
else fail "unix: 200 concurrent connections: $(cat "$T/c1.out")"; fi

if "$XFER" concurrent "tcp:127.0.0.1:$port" 200 64K --seed 100 >"$T/c2.out" 2>&1; then
	pass "tcp: $(tail -n 1 "$T/c2.out")"
else fail "tcp: 200 concurrent connections: $(cat "$T/c2.out")"; fi

check "broker still running" broker_alive
check "brokerctl status still answers" ctl_ok
stopped_ok
check "no sanitizer report in the broker log" sanitizer_clean "$BROKER_LOG"
finish
