#!/bin/sh
# tests/integration/link_crypto.sh - a tcp link is sealed after the
# handshake (broker-link(7) Encryption): two real brokers, A accepting on
# tcp, B dialing it through tests/tools/linkpeer mitm, a man in the middle
# that records every byte and can flip one.
#  (a) both sides say encrypted; 4 MiB through a route come back whole, and
#      neither the data's marker text nor the route's target appears in the
#      recorded wire bytes;
#  (b) with ?encrypt=off on both ends (the documented opt-in) the marker is
#      there in clear: the check above can see it;
#  (c) one end ?encrypt=off, the other not: both refuse, naming the mismatch;
#  (d) one bit flipped after the handshake: the receiver says "integrity
#      check failed" and drops the link; the client gets an error, never
#      altered bytes.  Plaintext with the same flip delivers altered bytes;
#  (e) one bit flipped in the dialer's HELLO: the proofs fail (the
#      transcript covers every HELLO byte), the link never comes up.
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 14
[ -x "$LINKPEER" ] || bail "test helper not built ($LINKPEER; run make check)"
command -v socat >/dev/null 2>&1 || bail "socat not installed (scripts/bootstrap installs it)"

SECRET="$T/link.secret"
make_secret "$SECRET"
serve echo echo "unix:$T/echo.sock"
# The marker: 64 KiB of a text that must never cross the carrier in clear.
i=0
: >"$T/marker.txt"
while [ $i -lt 2048 ]; do echo "PLAINTEXT-MARKER-$i-abcdef" >>"$T/marker.txt"; i=$((i + 1)); done

# mitm NAME [ARGS...]: a man in the middle from a free port to A's port PA; sets PM.
mitm() {
	_n=$1; shift
	PM=$(free_port)
	rm -f "$T/$_n.ready" "$T/$_n.wire"
	"$LINKPEER" mitm "tcp:127.0.0.1:$PM" "tcp:127.0.0.1:$PA" --record "$T/$_n.wire" --ready "$T/$_n.ready" \
		--timeout 300 "$@" >"$T/$_n.out" 2>&1 &
	record $!
	eval "MITM_$_n=$!"
	wait_until 10 test -s "$T/$_n.ready" || bail "mitm $_n did not listen: $(cat "$T/$_n.out")"
}
# pair SUFFIX A-ARGS -- B-ARGS: A on tcp PA, B dialing through the mitm.
startA() { PA=$(free_port); rm -rf "$T/A"; bstart A --link-listen "tcp://127.0.0.1:$PA$1" --link-secret "$SECRET" \
	--peer-allow-connect "unix://$T/echo.sock"; }
startB() { rm -rf "$T/B"; bstart B --link-connect "tcp://127.0.0.1:$PM$1" --link-secret "$SECRET" --link-backoff-max 1; }
marker_through() {
	rm -f "$T/back.txt"
	socat -t 5 - "UNIX-CONNECT:$T/in.sock" <"$T/marker.txt" >"$T/back.txt" 2>"$T/socat.err"
	cmp -s "$T/marker.txt" "$T/back.txt"
}

# ---- (a) sealed ----------------------------------------------------------------------
startA ""
mitm m1
startB ""
wait_link_up B 15 connect || bail "(a) B's link through the mitm not up: $(link_field B connect last_error)"
[ "$(link_field B connect encrypted)" = true ] && [ "$(link_field A accepted encrypted)" = true ] &&
	pass "(a) both ends say the link is encrypted ($(link_field B connect peer_id) / $(link_field A accepted peer_id))" ||
	fail "(a) encrypted: B $(link_field B connect encrypted), A $(link_field A accepted encrypted)"
log_has B "up: .*authenticated, encrypted" && pass "(a) B logs '$(grep -o 'up: .*' "$(blog B)" | head -n 1)'" ||
	fail "(a) B's up line does not say encrypted"
broute B r "unix://$T/in.sock" "peer:unix://$T/echo.sock"
if "$XFER" send "unix:$T/in.sock" 4M --expect echo --io-timeout 10 >"$T/a.out" 2>&1 && grep -q "sent 4194304 " "$T/a.out"
then pass "(a) 4 MiB through the sealed link come back whole"; else fail "(a) transfer: $(cat "$T/a.out")"; fi
marker_through && pass "(a) the marker text comes back whole" || fail "(a) marker: $(cat "$T/socat.err")"
n=$(grep -ac "PLAINTEXT-MARKER" "$T/m1.wire")
t=$(grep -ac "echo.sock" "$T/m1.wire")
[ "$n" = 0 ] && [ "$t" = 0 ] && pass "(a) $(wc -c <"$T/m1.wire") bytes on the wire: no marker, no route target in clear" ||
	fail "(a) plaintext on the wire: $n marker lines, $t mentions of echo.sock"
bstop B
bstop A

# ---- (b) the plaintext opt-in ---------------------------------------------------------
startA "?encrypt=off"
mitm m2
startB "?encrypt=off"
wait_link_up B 15 connect || bail "(b) plaintext link not up: $(link_field B connect last_error)"
[ "$(link_field B connect encrypted)" = false ] && pass "(b) ?encrypt=off on both ends: the link says not encrypted" ||
	fail "(b) encrypted=$(link_field B connect encrypted) with ?encrypt=off"
broute B r "unix://$T/in.sock" "peer:unix://$T/echo.sock"
marker_through || bail "(b) marker through the plaintext link: $(cat "$T/socat.err")"
n=$(grep -ac "PLAINTEXT-MARKER" "$T/m2.wire")
[ "$n" -gt 0 ] && pass "(b) and the marker is on the wire in clear ($n lines): the check in (a) can see it" ||
	fail "(b) no marker on a plaintext wire"
bstop B
bstop A

# ---- (c) a mismatch ---------------------------------------------------------------------
startA ""
mitm m3
startB "?encrypt=off"
if wait_log A "encryption mismatch" 10 && wait_log B "encryption mismatch" 10; then
	pass "(c) both refuse: A '$(grep -o 'encryption mismatch[^;]*' "$(blog A)" | head -n 1)'"
else fail "(c) mismatch not named: A $(grep -c mismatch "$(blog A)"), B $(grep -c mismatch "$(blog B)")"; fi
sleep 1
[ "$(link_field B connect state)" != up ] && pass "(c) the link never comes up: $(link_field B connect last_error | cut -c1-100)" ||
	fail "(c) a half-sealed link came up"
bstop B
bstop A

# ---- (d) a flipped bit after the handshake ------------------------------------------------
for mode in sealed plain; do
	opt=""
	[ $mode = plain ] && opt="?encrypt=off"
	startA "$opt"
	mitm "f$mode" --flip-at 600000
	startB "$opt"
	wait_link_up B 15 connect || bail "(d) $mode: link not up: $(link_field B connect last_error)"
	broute B r "unix://$T/in.sock" "peer:unix://$T/echo.sock"
	"$XFER" send "unix:$T/in.sock" 4M --expect echo --io-timeout 5 --timeout 20 >"$T/d.out" 2>&1
	rc=$?
	if [ $mode = sealed ]; then
		if wait_log A "integrity check failed" 5; then
			pass "(d) sealed: A says '$(grep -o 'integrity check failed[^;]*' "$(blog A)" | head -n 1)'"
		else fail "(d) sealed: A did not detect the flipped bit: $(tail -n 2 "$(blog A)")"; fi
		[ $rc != 0 ] && ! grep -q "echo mismatch" "$T/d.out" &&
			pass "(d) sealed: the client sees an error, never altered bytes ($(cut -c1-80 "$T/d.out"))" ||
			fail "(d) sealed: the client got: rc $rc $(cat "$T/d.out")"
	else
		grep -q "flipped byte" "$T/fplain.out" && grep -q "echo mismatch" "$T/d.out" &&
			pass "(d) plaintext: the same flip reaches the client as altered bytes (the check in the sealed case can fail)" ||
			fail "(d) plaintext flip: rc $rc $(cat "$T/d.out") / $(cat "$T/fplain.out")"
	fi
	bstop B
	bstop A
done

# ---- (e) a flipped bit in the HELLO ---------------------------------------------------------
startA ""
mitm m5 --flip-at 30
startB ""
if wait_log A "authentication failed" 10 || wait_log B "authentication failed" 1; then
	pass "(e) a changed HELLO byte fails the proofs: '$(grep -ho 'authentication failed[^;]*' "$(blog A)" "$(blog B)" | head -n 1)'"
else fail "(e) no authentication failure after a HELLO flip: A $(tail -n 1 "$(blog A)") B $(tail -n 1 "$(blog B)")"; fi
[ "$(link_field B connect state)" != up ] && pass "(e) the link never comes up" || fail "(e) link up with a changed HELLO"
bstop B
bstop A

for l in "$T"/A.*.log "$T"/B.*.log; do
	sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"
done
finish
