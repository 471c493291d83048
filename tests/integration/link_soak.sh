#!/bin/sh
# Seeded randomized soak through two linked brokers (unix carrier; clients
# and targets on loopback TCP, where an abortive close is a real RST): 60
# concurrent streams through one route, each way a random size from 0 to
# 8 MiB written and read in random sizes from 1 byte to 300 KB; from the
# seed, some streams reset mid-stream from the client or the server side,
# some reply only after the other side's half-close, some read slowly.
# Every byte is checked at its offset, every stream must end as planned
# (whole with EOF each way, or a reset seen as a reset, never as a clean
# close, on the other side), all within a bounded time.  The seed is printed:
# LINK_SOAK_SEED=N replays one (make check TESTS=tests/integration/link_soak.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 7
LINKLOAD="$top_builddir/tests/tools/linkload"
[ -x "$LINKLOAD" ] || bail "test helper not built ($LINKLOAD; run make)"

SEED=${LINK_SOAK_SEED:-$(date +%s)}
if [ -n "$SANITIZED" ]; then LIMIT=240; else LIMIT=90; fi
note "soak seed $SEED (replay: LINK_SOAK_SEED=$SEED make check TESTS=tests/integration/link_soak.sh)"

bstart A --link-listen "unix://$T/link.sock" --peer-allow-connect "tcp://127.0.0.1:*"
bstart B --link-connect "unix://$T/link.sock"
wait_link_up B 15 || bail "link not up within 15 s: $(tr '\n' ' ' <"$T/B.link.json")"
P=$(free_port) || bail "no free port"
R=$(free_port) || bail "no free port"
broute B soak "tcp://127.0.0.1:$R" "peer:tcp://127.0.0.1:$P"

t=$(date +%s)
timeout $((LIMIT + 30)) "$LINKLOAD" soak --connect "tcp:127.0.0.1:$R" --listen "tcp:127.0.0.1:$P" --streams 60 \
	--max-size 8M --max-io 300000 --seed "$SEED" --timeout "$LIMIT" >"$T/soak.out" 2>&1
rc=$?
sed -n 's/^# //p; /^soak:/p' "$T/soak.out" | while IFS= read -r line; do note "$line"; done
if [ "$rc" -eq 0 ] && grep -q '^ok soak' "$T/soak.out"; then
	pass "$(sed -n 's/^ok //p' "$T/soak.out")"
elif grep -q '^FAIL soak' "$T/soak.out"; then
	fail "$(sed -n 's/^FAIL //p' "$T/soak.out")"
else
	fail "linkload soak exited $rc with no result (seed $SEED): $(tail -n 3 "$T/soak.out" | tr '\n' ' ')"
fi

streams_zero() { [ "$(link_field "$1" any streams_open)" = 0 ]; }
if wait_until 10 streams_zero B; then pass "every stream closed on the dialer afterwards"
else fail "streams still open on the dialer after the soak: $(link_field B any streams_open)"; fi
if wait_until 10 streams_zero A; then pass "every stream closed on the acceptor afterwards"
else fail "streams still open on the acceptor after the soak: $(link_field A any streams_open)"; fi
if [ "$(link_field B any state)" = up ] && [ "$(link_field B any protocol_errors)" = 0 ] &&
	[ "$(link_field A any protocol_errors)" = 0 ]; then
	pass "the link stayed up with no protocol error"
else fail "link after the soak: state $(link_field B any state), protocol errors B $(link_field B any protocol_errors), A $(link_field A any protocol_errors)"; fi
bstop B && [ "$STOP_RC" = 0 ] && pass "dialer exits 0 on SIGTERM" || fail "dialer stop: $STOP_RC"
bstop A && [ "$STOP_RC" = 0 ] && pass "acceptor exits 0 on SIGTERM" || fail "acceptor stop: $STOP_RC"
dirty=
for l in "$T"/A*.log "$T"/B*.log; do
	sanitizer_clean "$l" || dirty="$dirty $(basename "$l")"
done
[ -z "$dirty" ] && pass "no sanitizer report in the brokers' logs" || fail "sanitizer report in:$dirty"
finish
