#!/bin/sh
# tests/windows/link_tcp.sh - brokerd.exe under wine and a Linux brokerd
# linked over tcp (loopback), the way a Windows host and a VM reachable only
# by TCP would be: the link is authenticated and sealed (broker-link(7)
# Encryption) and relays a route both ways; the wrong secret and a plaintext
# end are refused.
#
#   W (wine brokerd.exe) --link-listen tcp://127.0.0.1:PW, secret S
#   L (Linux brokerd)    --link-connect tcp://127.0.0.1:PW, secret S
#   L: route wl  tcp://127.0.0.1:PL1 -> peer:tcp://127.0.0.1:ECHO   (W lets its peer reach ECHO)
#   L: route lw  peer:tcp://127.0.0.1:PL2 -> tcp://127.0.0.1:ECHO   (W lets its peer have it listen)
#
# Environment: top_builddir (Linux build), WIN_BUILD (the cross build),
# WINEPREFIX (a private one is made when unset).  TAP, 8 results.  POSIX sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/link_lib.sh"
plan 8

: "${WIN_BUILD:=$top_srcdir/build-windows}"
WBROKERD="$WIN_BUILD/broker/brokerd.exe"
TCP_DIR="$WIN_BUILD/plugins/tcp/.libs"
command -v wine >/dev/null 2>&1 || bail "wine not installed (scripts/test-windows installs it)"
[ -x "$BROKERD" ] || bail "Linux brokerd not built ($BROKERD)"
[ -e "$WBROKERD" ] || bail "Windows brokerd.exe not built ($WBROKERD; run scripts/build-windows)"
[ -e "$TCP_DIR/tcp.dll" ] || bail "tcp.dll not built ($TCP_DIR)"

. "$(dirname "$0")/wine_lib.sh"

SECRET="$T/link.secret"
make_secret "$SECRET"
WRONG="$T/wrong.secret"
make_secret "$WRONG"
serve echo echo "tcp:127.0.0.1:0"
ECHO=${SERVE_ADDR#tcp:}
W="$T/W"
mkdir -p "$W"
WP="broker-tcp-test-$$"

# startW NAME URL SECRET: brokerd.exe listening for links on URL; its control pipe is \\.\pipe\$WP-NAME-ctl.
startW() {
	_n=$1
	timeout 300 wine "$WBROKERD" --runtime-dir "$WP-$_n" --state-dir "Z:$W/$_n" --plugin-dir "Z:$TCP_DIR" \
		--log-level debug --link-listen "$2" --link-secret "Z:$3" \
		--peer-allow-connect "tcp://$ECHO" --peer-allow-listen 'tcp://127.0.0.1:*' >"$T/W$_n.log" 2>&1 &
	record $!
	eval "PID_W$_n=$!"
}
stopW() { eval "_p=\$PID_W$1"; kill "$_p" 2>/dev/null; wait "$_p" 2>/dev/null; }

# ---- sealed, relaying both ways --------------------------------------------------
PW=$(free_port)
startW 1 "tcp://127.0.0.1:$PW" "$SECRET"
wait_until 60 "$XFER" wait-connect "tcp:127.0.0.1:$PW" 1 || bail "brokerd.exe did not listen on $PW: $(tail -n 5 "$T/W1.log" | tr '\n' ' ')"
bstart L --link-connect "tcp://127.0.0.1:$PW" --link-secret "$SECRET" --link-backoff-max 1
wait_link_up L 60 connect || bail "link to brokerd.exe not up: $(link_field L connect last_error)"
[ "$(link_field L connect encrypted)" = true ] && [ "$(link_field L connect authenticated)" = true ] &&
	pass "Linux brokerd linked to brokerd.exe over tcp: authenticated and encrypted" ||
	fail "tcp link: encrypted $(link_field L connect encrypted), authenticated $(link_field L connect authenticated)"
grep -q "up: .*authenticated, encrypted" "$T/W1.log" && pass "brokerd.exe logs the link up, authenticated and encrypted" ||
	fail "brokerd.exe's log: $(grep 'up:' "$T/W1.log" | tail -n 1)"
PL1=$(free_port)
broute L wl "tcp://127.0.0.1:$PL1" "peer:tcp://$ECHO"
if "$XFER" send "tcp:127.0.0.1:$PL1" 16M --expect echo --io-timeout 20 >"$T/wl.out" 2>&1; then
	pass "16 MiB each way Linux -> brokerd.exe -> echo through the sealed link: $(cut -c1-60 "$T/wl.out")"
else fail "Linux -> Windows route: $(cat "$T/wl.out")"; fi
PL2=$(free_port)
broute L lw "peer:tcp://127.0.0.1:$PL2" "tcp://$ECHO"
if wait_until 30 "$XFER" wait-connect "tcp:127.0.0.1:$PL2" 1 &&
	"$XFER" send "tcp:127.0.0.1:$PL2" 16M --expect echo --io-timeout 20 >"$T/lw.out" 2>&1; then
	pass "16 MiB each way through brokerd.exe's listener back to the Linux side (by route id)"
else fail "Windows -> Linux route: $(route_line L lw) $(cat "$T/lw.out" 2>/dev/null)"; fi
bstop L
stopW 1

# ---- the wrong secret --------------------------------------------------------------
PW=$(free_port)
startW 2 "tcp://127.0.0.1:$PW" "$SECRET"
wait_until 60 "$XFER" wait-connect "tcp:127.0.0.1:$PW" 1 || bail "brokerd.exe (2) did not listen"
bstart L2 --link-connect "tcp://127.0.0.1:$PW" --link-secret "$WRONG" --link-backoff-max 1
if wait_until 30 grep -q "authentication failed" "$T/W2.log"; then
	pass "brokerd.exe refuses the wrong secret: $(grep -o 'authentication failed[^;]*' "$T/W2.log" | head -n 1)"
else fail "brokerd.exe did not refuse the wrong secret: $(tail -n 3 "$T/W2.log" | tr '\n' ' ')"; fi
[ "$(link_field L2 connect state)" != up ] && pass "the link with the wrong secret is not up" ||
	fail "linked with the wrong secret"
bstop L2
stopW 2

# ---- a plaintext end -------------------------------------------------------------------
PW=$(free_port)
startW 3 "tcp://127.0.0.1:$PW" "$SECRET"
wait_until 60 "$XFER" wait-connect "tcp:127.0.0.1:$PW" 1 || bail "brokerd.exe (3) did not listen"
bstart L3 --link-connect "tcp://127.0.0.1:$PW?encrypt=off" --link-secret "$SECRET" --link-backoff-max 1
if wait_until 30 grep -q "encryption mismatch" "$T/W3.log"; then
	pass "brokerd.exe refuses a plaintext peer: $(grep -o 'encryption mismatch[^;]*' "$T/W3.log" | head -n 1 | cut -c1-100)"
else fail "no mismatch on brokerd.exe: $(tail -n 3 "$T/W3.log" | tr '\n' ' ')"; fi
[ "$(link_field L3 connect state)" != up ] && pass "the half-sealed link is not up" || fail "a half-sealed link came up"
bstop L3
stopW 3
finish
