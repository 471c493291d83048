#!/bin/sh
# --http-listen against clients that never stop (issue 9, case 6: the HTTP
# server took 2.4 GB from an endless header line and 4.2 GB from
# "Content-Length: 2000000000", with no connection cap):
#  (a) a request line followed by a 2 GiB header line: the connection is
#      dropped after --http-max-header-size, VmRSS grows < 16 MiB;
#  (b) POST with Content-Length: 2000000000, then the bytes: 413 before the
#      body is read, the connection dropped, VmRSS grows < 16 MiB;
#  (c) 150 clients that send half a request and wait, against
#      --http-max-connections 40: brokerd holds at most 40 of them (ss says
#      so) and logs the limit; once they go, /health answers
#      again and the descriptors are back.
# brokerctl status and /health keep answering (within 2 s) around each one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/bounds_lib.sh"
LINKPEER="$top_builddir/tests/tools/linkpeer"
plan 16
[ -x "$LINKPEER" ] || bail "test helper not built ($LINKPEER; run make check)"
command -v curl >/dev/null 2>&1 || bail "curl not installed"
command -v ss >/dev/null 2>&1 || bail "ss (iproute2) not installed"
command -v socat >/dev/null 2>&1 || bail "socat not installed"
ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=8:malloc_context_size=5"
export ASAN_OPTIONS

hp=$(free_port) || bail "no free port"
start_broker --http-listen "127.0.0.1:$hp" --http-max-connections 40
prioritize "$BROKER_PID"
rss_kb() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status 2>/dev/null; }
fds() { ls /proc/"$BROKER_PID"/fd 2>/dev/null | wc -l; }
health_fast() {
	_s0=$(date +%s%N)
	if nice -n -10 curl -s --max-time 5 "http://127.0.0.1:$hp/health" | grep -q '"status":"ok"'; then
		_ms=$((($(date +%s%N) - _s0) / 1000000))
		[ "$_ms" -lt "$STATUS_LIMIT_MS" ] && { pass "$1: /health answers in $_ms ms"; return; }
		fail "$1: /health took $_ms ms"
	else
		fail "$1: /health does not answer"
	fi
}
status_fast() {
	_ms=$(status_ms "$T/run")
	if [ "$_ms" != failed ] && [ "$_ms" -lt "$STATUS_LIMIT_MS" ]; then pass "$1: brokerctl status answers in $_ms ms"
	else fail "$1: brokerctl status took $_ms ms (limit $STATUS_LIMIT_MS)"; fi
}
# hostile WHAT ARGS...: run linkpeer preauth (at nice 19) and sample VmRSS; sets PEAK and OUT.
hostile() {
	_what=$1; shift
	nice -n 19 "$LINKPEER" preauth "tcp:127.0.0.1:$hp" --timeout 100 "$@" >"$T/h.out" 2>&1 &
	_p=$!
	record $_p
	PEAK=0
	while alive $_p; do
		_r=$(rss_kb "$BROKER_PID")
		[ "${_r:-0}" -gt "$PEAK" ] && PEAK=$_r
		sleep 0.2
	done
	wait $_p
	OUT=$(head -n 1 "$T/h.out")
}

health_fast "before"
fd0=$(fds)

# ---- (a) endless header ----
rss0=$(rss_kb "$BROKER_PID")
hostile "(a)" --raw 'GET /health HTTP/1.1\r\nX-Endless: ' --len 2G
case $OUT in
*"1 dropped"*) pass "(a) a 2 GiB header line: dropped ($(echo "$OUT" | sed 's/.*the broker took \([0-9]*\)\..*/\1/') bytes reached the socket)" ;;
*) fail "(a) the endless header was not refused: $OUT" ;;
esac
[ $((PEAK - rss0)) -lt 16384 ] && pass "(a) VmRSS peaked at $PEAK kB from $rss0 kB (bound +16 MiB; was +2.4 GB)" ||
	fail "(a) VmRSS peaked at $PEAK kB from $rss0 kB"
health_fast "(a) after"

# ---- (b) a 2 GB body ----
rss0=$(rss_kb "$BROKER_PID")
printf 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\n' |
	timeout 10 socat -t 3 - "TCP:127.0.0.1:$hp" >"$T/413.out" 2>&1
head -n 1 "$T/413.out" | grep -q "^HTTP/1.1 413" && pass "(b) Content-Length: 2000000000 gets '$(head -n 1 "$T/413.out" | tr -d '\r')' before any body" ||
	fail "(b) no 413 for a 2 GB Content-Length: $(head -c 200 "$T/413.out" | tr '\r\n' '  ')"
hostile "(b)" --raw 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\n' --len 2000000000
case $OUT in
*"1 dropped"*) pass "(b) the body's sender is dropped" ;;
*) fail "(b) the 2 GB body was taken: $OUT" ;;
esac
[ $((PEAK - rss0)) -lt 16384 ] && pass "(b) VmRSS peaked at $PEAK kB from $rss0 kB (bound +16 MiB; was +4.2 GB)" ||
	fail "(b) VmRSS peaked at $PEAK kB from $rss0 kB"
health_fast "(b) after"
status_fast "(b) after"

# ---- (c) many clients that never finish a request ----
nice -n 19 "$LINKPEER" preauth "tcp:127.0.0.1:$hp" --raw 'GET /health HTTP/1.1\r\nX-Slow: ' --clients 150 \
	--len 1 --partial 0 --hold 6 >"$T/c.out" 2>&1 &
cp=$!
record $cp
wait_until 10 grep -q holding "$T/c.out"
sleep 1
# Connections brokerd has accepted on the port (the rest wait in the kernel's queue).
held=$(ss -Htnp state established "( sport = :$hp )" 2>/dev/null | grep -c "pid=$BROKER_PID,")
[ "$held" -le 40 ] && [ "$held" -ge 30 ] && pass "(c) with 150 clients waiting, brokerd holds $held of their connections (limit 40)" ||
	fail "(c) brokerd holds $held connections for 150 clients (limit 40)"
grep -q "40 connections open (limit, --http-max-connections)" "$BROKER_LOG" &&
	pass "(c) the log names --http-max-connections" || fail "(c) no log line names the limit"
status_fast "(c) during"
wait $cp
http_conns() { ss -Htnp state established "( sport = :$hp )" 2>/dev/null | grep -c "pid=$BROKER_PID,"; }
no_http_conns() { [ "$(http_conns)" -eq 0 ]; }
wait_until 10 no_http_conns && pass "(c) after they go, brokerd holds no connection on the port ($(fds) descriptors, $fd0 before)" ||
	fail "(c) brokerd still holds $(http_conns) connections on the port"
health_fast "(c) after"

stopped_ok
sanitizer_clean "$BROKER_LOG" && pass "no sanitizer report in the broker's log" || fail "sanitizer report in the broker's log"
finish
