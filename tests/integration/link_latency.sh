#!/bin/sh
# Latency beside bulk transfers: two brokers linked over a unix socket, two
# routes on B.  1-byte ping-pong through one route while 8 bulk streams run
# both ways at once through the other (every bulk byte checked).  The
# assertion is that the ping-pong completes and no round trip takes over 1 s
# (issue 8 saw 4 s while bulk streams stalled the link), not counting the
# time the brokers or the ping and echo threads waited for a CPU during it
# (/proc/PID/schedstat: a loaded machine is not a stall, idle brokers are);
# p50/p99 are reported, not asserted (tests/bench/link-load has targets).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 6
LINKLOAD="$top_builddir/tests/tools/linkload"
[ -x "$LINKLOAD" ] || bail "test helper not built ($LINKLOAD; run make)"

N=1000000   # round trips: the 3 s bound ends the run first
bstart A --link-listen "unix://$T/link.sock" --peer-allow-connect "unix://$T/*"
bstart B --link-connect "unix://$T/link.sock"
wait_link_up B 15 || bail "link not up within 15 s: $(tr '\n' ' ' <"$T/B.link.json")"
broute B ping "unix://$T/ping-in.sock" "peer:unix://$T/ping.sock"
broute B bulk "unix://$T/bulk-in.sock" "peer:unix://$T/bulk.sock"

if "$LINKLOAD" ping --connect "unix:$T/ping-in.sock" --listen "unix:$T/ping.sock" --count "$N" --secs 3 \
	--max-ms 1000 --watch-pid "$PID_A" --watch-pid "$PID_B" >"$T/idle.out" 2>&1; then
	pass "idle link: $(grep '^ok' "$T/idle.out" | sed 's/^ok ping: //')"
else fail "idle link: $(grep -v '^n=' "$T/idle.out" | tr '\n' ' ')"; fi

t=$(date +%s)
if "$LINKLOAD" ping --connect "unix:$T/ping-in.sock" --listen "unix:$T/ping.sock" --count "$N" --secs 3 \
	--max-ms 1000 --watch-pid "$PID_A" --watch-pid "$PID_B" \
	--bulk 8 --dirs both --bulk-connect "unix:$T/bulk-in.sock" --bulk-listen "unix:$T/bulk.sock" \
	--timeout 60 >"$T/bulk.out" 2>&1; then
	pass "beside 8 bulk streams: $(grep '^ok' "$T/bulk.out" | sed 's/^ok ping: //') in $(elapsed_since "$t") s"
else fail "beside 8 bulk streams: $(grep -v '^n=' "$T/bulk.out" | tr '\n' ' ')"; fi

streams_zero() { [ "$(link_field "$1" any streams_open)" = 0 ]; }
if wait_until 10 streams_zero B; then pass "every stream closed afterwards"
else fail "streams still open afterwards: $(link_field B any streams_open)"; fi
bstop B && [ "$STOP_RC" = 0 ] && pass "dialer exits 0 on SIGTERM" || fail "dialer stop: $STOP_RC"
bstop A && [ "$STOP_RC" = 0 ] && pass "acceptor exits 0 on SIGTERM" || fail "acceptor stop: $STOP_RC"
dirty=
for l in "$T"/A*.log "$T"/B*.log; do
	sanitizer_clean "$l" || dirty="$dirty $(basename "$l")"
done
[ -z "$dirty" ] && pass "no sanitizer report in the brokers' logs" || fail "sanitizer report in:$dirty"
finish
