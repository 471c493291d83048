#!/bin/sh
# --http-listen serves /health, /ready and Prometheus /metrics whose
# per-route byte counters match the traffic; flag beats environment.
. "$(dirname "$0")/lib.sh"
plan 14
command -v curl >/dev/null 2>&1 || bail "curl not installed"

hport=$(free_port) || bail "no free port"
H="http://127.0.0.1:$hport"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1"; }
is200() { [ "$(code "$1")" = 200 ]; }

start_broker --http-listen "127.0.0.1:$hport"
check "/health returns 200" wait_until 10 is200 "$H/health"
check "/ready returns 200 once started" wait_until 10 is200 "$H/ready"
c=$(code "$H/no-such-page")
[ "$c" = 404 ] && pass "unknown path returns 404" || fail "unknown path returned $c"

serve echo echo "unix:$T/echo.sock"
add_route h1 "unix://$T/h1.sock" "unix://$T/echo.sock"
n=1048576
"$XFER" send "unix:$T/h1.sock" $n --expect echo >"$T/s.out" 2>&1 || bail "traffic: $(cat "$T/s.out")"
"$XFER" send "unix:$T/h1.sock" $n --seed 2 --expect echo >"$T/s.out" 2>&1 || bail "traffic: $(cat "$T/s.out")"

# sample NAME ROUTE [LABEL=VALUE]: sum of samples of metric NAME for ROUTE.
sample() {
	_f=".*"
	[ $# -ge 3 ] && _f="$3"
	grep -E "^$1\{" "$T/metrics" | grep "route=\"$2\"" | grep -- "$_f" |
		awk '{ s += $NF; n++ } END { if (n) printf "%d\n", s; else print "none" }'
}
# Counters are updated as bytes move; allow the close to be accounted.
get_metrics() { curl -sS --max-time 5 -D "$T/headers" "$H/metrics" >"$T/metrics" 2>"$T/curl.err"; }
bytes_done() { get_metrics && [ "$(sample broker_route_bytes_total h1 'direction="in"')" = $((2 * n)) ]; }
wait_until 5 bytes_done
get_metrics || bail "GET /metrics: $(cat "$T/curl.err")"
grep -qi '^content-type: text/plain' "$T/headers" && pass "/metrics is text/plain" ||
	fail "/metrics content type: $(grep -i content-type "$T/headers")"
grep -q '^# TYPE broker_route_bytes_total counter' "$T/metrics" &&
	pass "/metrics declares broker_route_bytes_total as a counter" ||
	fail "/metrics: no '# TYPE broker_route_bytes_total counter'"
in=$(sample broker_route_bytes_total h1 'direction="in"')
out=$(sample broker_route_bytes_total h1 'direction="out"')
[ "$in" = $((2 * n)) ] && pass "bytes in for h1 = $in" || fail "bytes in for h1: want $((2 * n)), got $in"
[ "$out" = $((2 * n)) ] && pass "bytes out for h1 = $out" || fail "bytes out for h1: want $((2 * n)), got $out"
conns=$(grep -E '^broker_route_conn[a-z_]*\{' "$T/metrics" | grep 'route="h1"' | grep -v active |
	awk '{ s += $NF } END { printf "%d\n", s }')
[ "$conns" -ge 2 ] && pass "connections counted for h1 ($conns)" ||
	fail "connections for h1: want >= 2, got $conns: $(grep 'route="h1"' "$T/metrics" | tr '\n' ';')"
stopped_ok

# Environment, and the flag winning over it.
eport=$(free_port) || bail "no free port"
BROKER_HTTP_LISTEN="127.0.0.1:$eport"
export BROKER_HTTP_LISTEN
start_broker
check "BROKER_HTTP_LISTEN serves /health" wait_until 10 is200 "http://127.0.0.1:$eport/health"
stopped_ok
start_broker --http-listen "127.0.0.1:$hport"
check "--http-listen beats BROKER_HTTP_LISTEN" wait_until 10 is200 "$H/health"
[ "$(code "http://127.0.0.1:$eport/health")" = 000 ] && pass "env address unused when the flag is given" ||
	fail "env address still served when the flag was given"
unset BROKER_HTTP_LISTEN
stopped_ok
for l in "$T"/brokerd.*.log; do sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"; done
finish
