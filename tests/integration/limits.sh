#!/bin/sh
# --max-connections: extra connections are closed at once and the slot frees
# up again; a target that refuses gives the client a clean close and is
# counted as an error in /metrics.
. "$(dirname "$0")/lib.sh"
plan 9
command -v curl >/dev/null 2>&1 || bail "curl not installed"

hport=$(free_port) || bail "no free port"
start_broker --http-listen "127.0.0.1:$hport"
serve echo echo "unix:$T/echo.sock"

add_route lim "unix://$T/lim.sock" "unix://$T/echo.sock" --max-connections 2
"$XFER" limit-probe "unix:$T/lim.sock" 4 --wait-ms 3000 >"$T/p.out" 2>&1
res=$(tail -n 1 "$T/p.out")
if [ "$res" = "accepted=2 rejected=2 stalled=0" ]; then
	pass "max-connections 2: 2 relayed, 2 closed at once"
else
	fail "max-connections 2: want accepted=2 rejected=2 stalled=0, got: $(tr '\n' ';' <"$T/p.out")"
fi
# The probe closed its connections: the slots must free up again.
if wait_until 5 "$XFER" send "unix:$T/lim.sock" 64K --expect echo --timeout 5; then
	pass "after those close, a new connection is relayed"
else fail "slots did not free up after connections closed"; fi
"$XFER" limit-probe "unix:$T/lim.sock" 2 >"$T/p2.out" 2>&1
[ "$(tail -n 1 "$T/p2.out")" = "accepted=2 rejected=0 stalled=0" ] &&
	pass "two connections again fit the limit" ||
	fail "second probe: $(tr '\n' ';' <"$T/p2.out")"

port=$(free_port) || bail "no free port"
deadport=$(free_port) || bail "no free port"
add_route ref "unix://$T/ref.sock" "unix://$T/nobody-listens.sock"
add_route reft "tcp://127.0.0.1:$port" "tcp://127.0.0.1:$deadport"
if "$XFER" send "unix:$T/ref.sock" 0 --expect empty --io-timeout 10 >"$T/r.out" 2>&1; then
	pass "unix target missing: client sees a clean close"
else fail "unix target missing: $(cat "$T/r.out")"; fi
if "$XFER" send "tcp:127.0.0.1:$port" 0 --expect empty --io-timeout 10 >"$T/r.out" 2>&1; then
	pass "tcp target refuses: client sees a clean close (no reset)"
else fail "tcp target refuses: $(cat "$T/r.out")"; fi
"$XFER" send "unix:$T/ref.sock" 0 --expect empty >/dev/null 2>&1

metric() { # metric NAME-REGEX ROUTE: sum of matching samples
	grep -E "^$1\{" "$T/metrics" | grep "route=\"$2\"" | awk '{ s += $NF } END { printf "%d\n", s }'
}
if curl -sS --max-time 5 "http://127.0.0.1:$hport/metrics" >"$T/metrics" 2>"$T/curl.err"; then
	e=$(metric 'broker_route_[a-z_]*errors?[a-z_]*' ref)
	et=$(metric 'broker_route_[a-z_]*errors?[a-z_]*' reft)
	if [ "$e" -ge 2 ] && [ "$et" -ge 1 ]; then pass "refused connects counted as errors (ref=$e reft=$et)"
	else fail "errors in /metrics: ref=$e (want >= 2), reft=$et (want >= 1): $(grep 'route="ref' "$T/metrics" | tr '\n' ';')"; fi
else
	fail "GET /metrics: $(cat "$T/curl.err")"
fi

check "broker still running" broker_alive
stopped_ok
check "no sanitizer report in the broker log" sanitizer_clean "$BROKER_LOG"
finish
