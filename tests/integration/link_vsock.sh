#!/bin/sh
# Two brokers linked over vsock loopback: A listens on vsock://any:PORT, B
# dials vsock://1:PORT (CID 1 = this machine, needs vsock_loopback).  Where
# that works: 256 MiB each way through a peer route with matching sha256 and
# a half-close with a delayed reply.  Where it does not (no AF_VSOCK, no
# loopback transport, or the connect times out as on most CI machines) the
# test skips (77) with the reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
[ -e "$top_builddir/plugins/vsock/.libs/vsock.so" ] || skip "vsock plugin not built"
[ "$(uname -s)" = Linux ] || skip "vsock is Linux-only here"

PORT=$((40000 + $$ % 20000))

# A: start by hand, so a refused vsock listener becomes a skip, not a failure.
mkdir -p "$T/A"
LOG_A="$T/A.1.log"
"$BROKERD" --runtime-dir "$T/A" --state-dir "$T/A" $LINK_PLUGIN_ARGS --log-level debug \
	--link-listen "vsock://any:$PORT" >"$LOG_A" 2>&1 &
PID_A=$!
record "$PID_A"
i=0
while ! bctl_ok A; do
	if ! alive "$PID_A"; then
		why=$(grep -E "vsock|link listener" "$LOG_A" | tail -n 1 | cut -d' ' -f3-)
		skip "cannot listen on vsock://any:$PORT: ${why:-brokerd exited (see its log)}"
	fi
	i=$((i + 1))
	[ "$i" -le 150 ] || bail "brokerd A did not answer within 15 s"
	sleep 0.1
done
st=$(link_field A listen state)
[ "$st" = listening ] || skip "vsock listener not listening: state '$st', $(link_field A listen last_error)"
pass "A listens for links on vsock://any:$PORT"

bstart B --link-connect "vsock://1:$PORT" --link-backoff-max 1
# Where loopback works the first connect succeeds at once; where it does not
# the first attempt fails (refused, or timed out after the kernel's 2 s):
# stop waiting once an attempt has failed and a retry did not help either.
up_or_failed() { link_up B connect || [ -n "$(link_field B connect last_error)" ]; }
wait_until 15 up_or_failed
link_up B connect || sleep 2
if ! link_up B connect; then
	why=$(link_field B connect last_error)
	st=$(link_field B connect state)
	skip "no vsock loopback on this machine: B could not link to vsock://1:$PORT (state $st: ${why:-no error recorded})"
fi
pass "B linked to A over vsock loopback (peer $(link_field B connect peer_id))"

serve echo echo "unix:$T/echo.sock"
serve later delayed-reply "unix:$T/later.sock" 2
broute B v "unix://$T/in.sock" "peer:unix://$T/echo.sock"
broute B vhc "unix://$T/hc.sock" "peer:unix://$T/later.sock"
if "$XFER" send "unix:$T/in.sock" 256M --expect echo --io-timeout 20 >"$T/v.out" 2>&1; then
	pass "256 MiB each way over vsock, sha256 match ($(sed 's/.* in /in /' "$T/v.out"))"
else fail "256 MiB over vsock: $(cat "$T/v.out")"; fi
if "$XFER" send "unix:$T/hc.sock" 1M --seed 3 --expect echo --io-timeout 10 >"$T/hc.out" 2>&1; then
	pass "half-close over vsock: reply 2 s after EOF arrives whole"
else fail "half-close over vsock: $(cat "$T/hc.out")"; fi

bstop B && [ "$STOP_RC" = 0 ] && pass "B exits 0 on SIGTERM" || fail "B stop: $STOP_RC"
bstop A && [ "$STOP_RC" = 0 ] && pass "A exits 0 on SIGTERM" || fail "A stop: $STOP_RC"
for l in "$T"/A*.log "$T"/B*.log; do
	sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"
done
finish
