#!/bin/sh
# Spliced local routes (Linux): when both ends are unix or tcp sockets the
# relay moves bytes socket -> pipe -> socket with splice(2).  Proves the
# splice path carried the bytes (the relay's debug line at close counts what
# splice moved each way, and must equal what was sent), that checksums,
# half-close and the route counters hold on it, that idle connections hold
# no pipes (pooled: 300 held connections leave at most the pool's 32 idle
# pipes), and that BROKER_SPLICE=off keeps the buffer path working.
. "$(dirname "$0")/lib.sh"
plan 13
[ "$(uname -s)" = Linux ] || skip "splice(2) is Linux only"
command -v jq >/dev/null 2>&1 || bail "jq not installed"

MIB=1048576
# pipe_fds PID: how many pipe descriptors the process holds.
pipe_fds() {
	for f in /proc/"$1"/fd/*; do readlink "$f" 2>/dev/null; done | grep -c '^pipe:'
}
route_num() { # route_num NAME FIELD
	ctl --json route list 2>/dev/null | jq -r --arg n "$1" --arg f "$2" '.[] | select(.name == $n) | .[$f]'
}
# spliced_line UP DOWN: the broker logged a relay that spliced UP bytes
# client -> target and DOWN back.
spliced_line() {
	grep -q "spliced: $1 bytes client -> target, $2 bytes target -> client" "$BROKER_LOG"
}

start_broker
base_pipes=$(pipe_fds "$BROKER_PID")
serve echo echo "unix:$T/echo.sock"
serve later delayed-reply "tcp:127.0.0.1:0" 2
LATER=$SERVE_ADDR
serve sink sink "tcp:127.0.0.1:0"
SINK=$SERVE_ADDR

add_route sp-echo "unix://$T/in-echo.sock" "unix://$T/echo.sock"
port=$(free_port) || bail "no free port"
add_route sp-later "tcp://127.0.0.1:$port" "$(xfer_url "$LATER")"
add_route sp-sink "unix://$T/in-sink.sock" "$(xfer_url "$SINK")"

# 1-3: unix -> unix echo, both ways checksummed, every byte through splice.
if "$XFER" send "unix:$T/in-echo.sock" 8M --seed 3 --expect echo --io-timeout 20 >"$T/a.out" 2>&1; then
	pass "unix -> unix: 8 MiB echoed whole (checksums match)"
else fail "unix -> unix echo: $(cat "$T/a.out")"; fi
if wait_until 10 spliced_line $((8 * MIB)) $((8 * MIB)); then
	pass "unix -> unix: splice moved all 8 MiB each way"
else fail "unix -> unix: no 'spliced: $((8 * MIB)) ... $((8 * MIB))' line: $(grep 'spliced:' "$BROKER_LOG" | tr '\n' ';')"; fi
counters_ok() { [ "$(route_num sp-echo bytes_in)" = $((8 * MIB)) ] && [ "$(route_num sp-echo bytes_out)" = $((8 * MIB)) ]; }
if wait_until 10 counters_ok; then
	pass "route counters: 8 MiB in, 8 MiB out"
else fail "route counters of sp-echo: in=$(route_num sp-echo bytes_in) out=$(route_num sp-echo bytes_out), want $((8 * MIB)) each"; fi

# 4-5: tcp -> tcp, the target answers 2 s after it saw our EOF: the
# half-close must pass through the pipe, and the late reply come back.
if "$XFER" send "tcp:127.0.0.1:$port" 2M --seed 5 --expect echo --io-timeout 20 >"$T/b.out" 2>&1; then
	pass "tcp -> tcp: half-close passed on, reply 2 s after EOF arrives whole"
else fail "tcp -> tcp delayed reply: $(cat "$T/b.out")"; fi
if wait_until 10 spliced_line $((2 * MIB)) $((2 * MIB)); then
	pass "tcp -> tcp: the delayed reply went through splice too"
else fail "tcp -> tcp: no 'spliced: $((2 * MIB)) ... $((2 * MIB))' line: $(grep 'spliced:' "$BROKER_LOG" | tr '\n' ';')"; fi

# 6-7: unix -> tcp into a sink: the sink's checksum line is the reply.
if "$XFER" send "unix:$T/in-sink.sock" 3M --seed 7 --expect sink --io-timeout 20 >"$T/c.out" 2>&1; then
	pass "unix -> tcp: 3 MiB arrive with the same sha256"
else fail "unix -> tcp sink: $(cat "$T/c.out")"; fi
sink_spliced() { grep -q "spliced: $((3 * MIB)) bytes client -> target, [1-9][0-9]* bytes target -> client" "$BROKER_LOG"; }
if wait_until 10 sink_spliced; then
	pass "unix -> tcp: splice moved the 3 MiB and the sink's reply"
else fail "unix -> tcp: no spliced line for 3 MiB: $(grep 'spliced:' "$BROKER_LOG" | tr '\n' ';')"; fi

# 8-9: idle connections hold no pipes: 300 connections, each proven with a
# one-byte echo, then held.  Unpooled that is 1200 pipe descriptors.
"$XFER" limit-probe "unix:$T/in-echo.sock" 300 --wait-ms 10000 --hold 300 >"$T/p.out" 2>&1 &
PROBE=$!
record "$PROBE"
wait_until 120 grep -q '^accepted=' "$T/p.out" || bail "limit-probe did not finish opening its connections"
res=$(tail -n 1 "$T/p.out")
held=$(pipe_fds "$BROKER_PID")
[ "$res" = "accepted=300 rejected=0 stalled=0" ] && [ "$(route_num sp-echo conns_active)" = 300 ] &&
	pass "300 connections relayed and held" ||
	fail "300 connections: $res, $(route_num sp-echo conns_active) active"
if [ "$held" -le $((base_pipes + 2 * 32)) ]; then
	pass "300 idle spliced connections hold no pipes ($held pipe fds, $base_pipes at start, pool keeps <= 32 pipes)"
else fail "300 idle spliced connections: $held pipe fds (at start $base_pipes; the pool keeps at most 64)"; fi
kill "$PROBE" 2>/dev/null
wait "$PROBE" 2>/dev/null
all_closed() { [ "$(route_num sp-echo conns_active)" = 0 ]; }
wait_until 20 all_closed || note "held connections still open: $(route_num sp-echo conns_active)"

check "broker still running" broker_alive
stopped_ok

# 12-13: BROKER_SPLICE=off: the same route on the buffer path, nothing spliced.
BROKER_SPLICE=off
export BROKER_SPLICE
start_broker
unset BROKER_SPLICE
add_route off-echo "unix://$T/in-off.sock" "unix://$T/echo.sock"
if "$XFER" send "unix:$T/in-off.sock" 4M --seed 11 --expect echo --io-timeout 20 >"$T/d.out" 2>&1 &&
	stop_broker && ! grep -q 'spliced:' "$BROKER_LOG"; then
	pass "BROKER_SPLICE=off: 4 MiB echoed whole on the buffer path, nothing spliced"
else fail "BROKER_SPLICE=off: $(cat "$T/d.out"); $(grep 'spliced:' "$BROKER_LOG" | head -n 2 | tr '\n' ';')"; fi
sanitizers_clean() { for _f in "$T"/brokerd.*.log; do sanitizer_clean "$_f" || return 1; done; }
check "no sanitizer report in the broker logs" sanitizers_clean
finish
