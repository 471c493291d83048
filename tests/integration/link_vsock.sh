#!/bin/sh
# Two brokers linked over vsock loopback: A listens on vsock://any:PORT, B
# dials vsock://1:PORT (CID 1 = this machine, needs vsock_loopback): 256 MiB
# each way through a peer route with matching sha256 and a half-close with a
# delayed reply.
# Whether this machine has vsock loopback is probed first, without brokerd
# (python3: listen on a vsock port, connect to CID 1 within 3 s).  Only where
# the probe fails does the test skip ("no vsock loopback on this machine",
# in tests/expected-skips); where it works, every link failure is a failure.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 6
[ -e "$top_builddir/plugins/vsock/.libs/vsock.so" ] || bail "vsock plugin not built"
command -v python3 >/dev/null 2>&1 || bail "python3 not installed (scripts/bootstrap installs it)"

# A port no other run of this test uses at the same time.
PORT=$((40000 + $$ % 20000))
# Over loopback the peer is CID 1, not the host (CID 2): A demands the secret.
SECRET="$T/vsock.secret"
make_secret "$SECRET"

# vsock_probe PORT: exit 0 when a vsock connection to CID 1 works here;
# 1 no loopback, 2 no AF_VSOCK at all, 3 the port cannot be bound; the
# reason on stdout.
vsock_probe() {
	python3 - "$1" <<'PY'
import socket, sys
port = int(sys.argv[1])
try:
    l = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
except (AttributeError, OSError) as e:
    print("no AF_VSOCK: %s" % e)
    sys.exit(2)
try:
    l.bind((socket.VMADDR_CID_ANY, port))
    l.listen(1)
except OSError as e:
    print("cannot listen on vsock port %d: %s" % (port, e))
    sys.exit(3)
c = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
c.settimeout(3)
try:
    c.connect((1, port))
except OSError as e:
    print("connect to CID 1 port %d: %s" % (port, e))
    sys.exit(1)
print("connected to CID 1 port %d" % port)
PY
}
why=$(vsock_probe "$PORT")
case $? in
0) note "vsock loopback probe: $why" ;;
1 | 2) skip "no vsock loopback on this machine ($why)" ;;
*) bail "vsock loopback probe: $why" ;;
esac

bstart A --link-listen "vsock://any:$PORT" --peer-allow-connect "unix://$T/*" --link-secret "$SECRET"
st=$(link_field A listen state)
if [ "$st" = listening ]; then pass "A listens for links on vsock://any:$PORT"
else bail "vsock listener not listening: state '$st', $(link_field A listen last_error)"; fi

bstart B --link-connect "vsock://1:$PORT" --link-backoff-max 1 --link-secret "$SECRET"
if wait_link_up B 15 connect; then
	pass "B linked to A over vsock loopback (peer $(link_field B connect peer_id))"
else
	bail "B did not link to vsock://1:$PORT although loopback works (state $(link_field B connect state): $(link_field B connect last_error))"
fi

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
