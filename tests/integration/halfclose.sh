#!/bin/sh
# Half-close: the client's EOF reaches the target as shutdown(SHUT_WR), and
# the target's reply still flows back afterwards, immediately or 2 s later.
. "$(dirname "$0")/lib.sh"
plan 7

start_broker
serve now delayed-reply "unix:$T/now.sock" 0
serve later delayed-reply "unix:$T/later.sock" 2
serve tlater delayed-reply "tcp:127.0.0.1:0" 2
TLATER=$SERVE_ADDR

add_route hc-now "unix://$T/in-now.sock" "unix://$T/now.sock"
add_route hc-later "unix://$T/in-later.sock" "unix://$T/later.sock"
port=$(free_port) || bail "no free port"
add_route hc-tcp "tcp://127.0.0.1:$port" "$(xfer_url "$TLATER")"

# The server replies only after it sees EOF, so a reply at all proves the
# half-close was propagated; the checksum proves the reply arrived whole.
if "$XFER" send "unix:$T/in-now.sock" 1M --expect echo --io-timeout 10 >"$T/a.out" 2>&1; then
	pass "reply right after EOF arrives whole (1 MiB)"
else fail "reply right after EOF: $(cat "$T/a.out")"; fi

if "$XFER" send "unix:$T/in-later.sock" 4M --seed 2 --expect echo --io-timeout 10 >"$T/b.out" 2>&1; then
	pass "reply 2 s after EOF arrives whole (4 MiB)"
else fail "reply 2 s after EOF: $(cat "$T/b.out")"; fi

if "$XFER" send "tcp:127.0.0.1:$port" 1M --seed 4 --expect echo --io-timeout 10 >"$T/c.out" 2>&1; then
	pass "tcp -> tcp: reply 2 s after EOF arrives whole"
else fail "tcp -> tcp delayed reply: $(cat "$T/c.out")"; fi

if "$XFER" send "unix:$T/in-now.sock" 1 --seed 9 --expect echo >"$T/d.out" 2>&1; then
	pass "1-byte request, reply after EOF"
else fail "1-byte request: $(cat "$T/d.out")"; fi

check "broker still running" broker_alive
stopped_ok
check "no sanitizer report in the broker log" sanitizer_clean "$BROKER_LOG"
finish
