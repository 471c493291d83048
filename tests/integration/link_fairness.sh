#!/bin/sh
# Flow control: 100 concurrent streams over one link, one of whose consumers
# never reads (a client that keeps sending and never reads the echo).  Its
# stream must block (bounded buffering: the sender sees its writes stall),
# the other 99 complete with matching checksums within a bounded time, and
# the stalled stream is still open (not reset) afterwards.  Run once with the
# client on the dialing broker (route listen local, connect peer:) and once
# with the client on the accepting broker (route listen=peer:).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 12
[ -x "$LINKPEER" ] || bail "test helper not built ($LINKPEER; run make check)"

BOUND=40          # seconds the 99 may take, all together
EACH=4M           # bytes each way per stream
# Bytes the non-reading client may get written before its writes stall: the
# stream's credit window (~256 KiB) on each broker plus the kernel buffers of
# the four unix sockets on the path (client, link, echo server both ways);
# measured 3.5-6 MiB here.  Unbounded buffering would go far past it.
BUF_MAX=$((16 * 1024 * 1024))

serve echo echo "unix:$T/echo.sock"
bstart A --link-listen "unix://$T/link.sock" --peer-allow-connect "unix://$T/*" --peer-allow-listen "unix://$T/*"
bstart B --link-connect "unix://$T/link.sock"
wait_link_up B 15 || bail "link not up within 15 s: $(tr '\n' ' ' <"$T/B.link.json")"
pass "link up"

broute B fair "unix://$T/fair.sock" "peer:unix://$T/echo.sock"
broute B fairpl "peer:unix://$T/fairpl.sock" "unix://$T/echo.sock"
wait_until 10 test -S "$T/fairpl.sock" || bail "listen=peer route never listened on A: $(route_line B fairpl)"

# one_round LABEL ADDR SEED
one_round() {
	lbl=$1; addr=$2
	rm -f "$T/hog-$lbl.ready"
	"$LINKPEER" hog "$addr" $((BOUND + 20)) --ready "$T/hog-$lbl.ready" --timeout $((BOUND + 40)) \
		>"$T/hog-$lbl.out" 2>&1 &
	hog=$!
	record "$hog"
	if wait_until 20 test -s "$T/hog-$lbl.ready"; then
		blocked=$(cut -d' ' -f2 "$T/hog-$lbl.ready")
		if [ "${blocked:-0}" -gt 0 ] && [ "$blocked" -le "$BUF_MAX" ]; then
			pass "$lbl: the consumer that never reads is blocked after $blocked bytes (bounded buffering, at most $BUF_MAX)"
		else
			fail "$lbl: the non-reading client wrote $blocked bytes before stalling (more than $BUF_MAX: buffering is not bounded by the window)"
		fi
	else
		fail "$lbl: the non-reading client's writes never stalled within 20 s (unbounded buffering?)"
	fi
	t=$(date +%s)
	if "$XFER" concurrent "$addr" 99 "$EACH" --seed "$3" --io-timeout 20 --timeout "$BOUND" \
		>"$T/c-$lbl.out" 2>&1; then
		pass "$lbl: $(tail -n 1 "$T/c-$lbl.out") in $(elapsed_since "$t") s beside a stalled stream"
	else
		fail "$lbl: the 99 other streams ($EACH each way) beside a stalled one: $(tr '\n' ' ' <"$T/c-$lbl.out")"
	fi
	# Not reset: the client is still blocked in its write (a reset would
	# end it with EPIPE/ECONNRESET) and its stream is still open on the
	# link (the 99 others have closed).
	open_b=$(link_field B any streams_open)
	if alive "$hog" && [ "${open_b:-0}" -ge 1 ] && ! grep -q "write failed" "$T/hog-$lbl.out"; then
		pass "$lbl: the stalled stream is still open (not reset): client blocked, $open_b stream(s) open on the link"
	else
		fail "$lbl: the stalled stream was ended: client $(alive "$hog" && echo alive || echo gone), streams_open '$open_b': $(cat "$T/hog-$lbl.out")"
	fi
	kill "$hog" 2>/dev/null
	wait "$hog" 2>/dev/null
}

one_round dialer-side "unix:$T/fair.sock" 100
one_round acceptor-side "unix:$T/fairpl.sock" 300

# After the hogs are gone their streams close; a fresh transfer still works.
if "$XFER" send "unix:$T/fair.sock" 16M --expect echo --io-timeout 20 >"$T/after.out" 2>&1; then
	pass "after the stalled clients left, a new 16 MiB transfer passes"
else fail "transfer after the stalled clients left: $(cat "$T/after.out")"; fi
streams_zero() { [ "$(link_field "$1" any streams_open)" = 0 ]; }
if wait_until 10 streams_zero B; then pass "every stream closed on the dialer"
else fail "streams still open on the dialer: $(link_field B any streams_open)"; fi
if wait_until 10 streams_zero A; then pass "every stream closed on the acceptor"
else fail "streams still open on the acceptor: $(link_field A any streams_open)"; fi
note "dialer VmRSS $(rss_kb "$PID_B") kB, acceptor VmRSS $(rss_kb "$PID_A") kB"

bstop B && [ "$STOP_RC" = 0 ] && pass "dialer exits 0 on SIGTERM" || fail "dialer stop: $STOP_RC"
bstop A && [ "$STOP_RC" = 0 ] && pass "acceptor exits 0 on SIGTERM" || fail "acceptor stop: $STOP_RC"
for l in "$T"/A*.log "$T"/B*.log; do
	sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"
done
finish
