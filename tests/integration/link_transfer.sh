#!/bin/sh
# Two brokers linked over unix, over tcp with authentication, and over stdio
# (B spawns A with exec: and A runs --link-stdio).  Over each carrier:
#  - bulk data each way through a peer route with matching sha256;
#  - half-close: the server replies 2 s after the client's EOF;
#  - 1000 short connections in a row, all echoed back whole;
#  - a route with listen=peer: (B asks A to listen; A's accepts are relayed
#    back to B, which connects locally).
# 1 GiB each way on all three carriers (the whole file took 27-33 s on 2
# cores; 1 GiB alone is 4-6 s per carrier).  In a sanitizer build (68 s with
# 1 GiB everywhere) tcp and stdio move 256 MiB each way and unix keeps 1 GiB.
# LINK_BIG_UNIX / LINK_BIG_OTHER (tcp and stdio) override, e.g. 256M.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 29
[ -x "$LINKPEER" ] || bail "test helper not built ($LINKPEER; run make check)"
[ -e "$top_builddir/plugins/exec/.libs/exec.so" ] || bail "exec plugin not built"

: "${LINK_BIG_UNIX:=1G}"
if [ -n "$SANITIZED" ]; then : "${LINK_BIG_OTHER:=256M}"; else : "${LINK_BIG_OTHER:=1G}"; fi
T0=$(date +%s)

serve echo echo "unix:$T/echo.sock"
serve later delayed-reply "unix:$T/later.sock" 2
SECRET="$T/link.secret"
make_secret "$SECRET"

streams_zero() { [ "$(link_field "$1" any streams_open)" = 0 ]; }
not_alive() { ! alive "$1"; }

# exercise C SIZE: B is the broker that dials (or spawns) the other one.
exercise() {
	c=$1; size=$2; b=B$1
	if wait_link_up "$b" 15; then pass "$c: link up ($(link_field "$b" any role), peer $(link_field "$b" any peer_id))"
	else bail "$c: link not up within 15 s: $(tr '\n' ' ' <"$T/$b.link.json")"; fi

	broute "$b" "big-$c" "unix://$T/$c-in.sock" "peer:unix://$T/echo.sock"
	if "$XFER" send "unix:$T/$c-in.sock" "$size" --seed 11 --expect echo --io-timeout 30 --timeout 100 \
		>"$T/$c-big.out" 2>&1; then
		pass "$c: $size each way through the link, sha256 match ($(sed 's/.* in /in /' "$T/$c-big.out"))"
	else fail "$c: $size each way: $(cat "$T/$c-big.out")"; fi

	broute "$b" "hc-$c" "unix://$T/$c-hc.sock" "peer:unix://$T/later.sock"
	t=$(date +%s)
	if "$XFER" send "unix:$T/$c-hc.sock" 4M --seed 3 --expect echo --io-timeout 10 >"$T/$c-hc.out" 2>&1; then
		if [ "$(elapsed_since "$t")" -ge 2 ]; then
			pass "$c: half-close: reply 2 s after the client's EOF arrives whole (4 MiB)"
		else fail "$c: half-close: the reply came back before the server's 2 s delay"; fi
	else fail "$c: half-close with a reply 2 s after EOF: $(cat "$T/$c-hc.out")"; fi

	if "$LINKPEER" seq "unix:$T/$c-in.sock" 1000 1K --timeout 60 >"$T/$c-seq.out" 2>&1; then
		pass "$c: $(cat "$T/$c-seq.out")"
	else fail "$c: 1000 short connections in a row: $(cat "$T/$c-seq.out")"; fi

	# listen=peer: the other broker listens, this one connects to the echo server.
	broute "$b" "pl-$c" "peer:unix://$T/$c-pl.sock" "unix://$T/echo.sock"
	if wait_until 10 test -S "$T/$c-pl.sock"; then
		if "$XFER" send "unix:$T/$c-pl.sock" 32M --seed 5 --expect echo --io-timeout 20 >"$T/$c-pl.out" 2>&1; then
			pass "$c: listen=peer route: the peer listens, 32 MiB each way back through the link"
		else fail "$c: listen=peer route: $(cat "$T/$c-pl.out")"; fi
	else
		fail "$c: listen=peer: the peer never listened on $T/$c-pl.sock ($(route_line "$b" "pl-$c"))"
	fi

	total=$(link_field "$b" any streams_total)
	if [ "${total:-0}" -ge 1000 ]; then pass "$c: link status counts the streams (streams_total=$total)"
	else fail "$c: link status streams_total=$total, want >= 1000"; fi
	if wait_until 5 streams_zero "$b"; then
		pass "$c: no stream left open afterwards"
	else fail "$c: streams still open after every client finished: $(link_field "$b" any streams_open)"; fi
}

# ---- unix ----
bstart Aunix --link-listen "unix://$T/link.sock" --peer-allow-connect "unix://$T/*" --peer-allow-listen "unix://$T/*"
bstart Bunix --link-connect "unix://$T/link.sock"
exercise unix "$LINK_BIG_UNIX"
bstop Bunix && [ "$STOP_RC" = 0 ] && pass "unix: dialer exits 0 on SIGTERM" || fail "unix: dialer stop: $STOP_RC"
bstop Aunix && [ "$STOP_RC" = 0 ] && pass "unix: acceptor exits 0 on SIGTERM" || fail "unix: acceptor stop: $STOP_RC"

# ---- tcp with auth ----
port=$(free_port) || bail "no free port"
bstart Atcp --link-listen "tcp://127.0.0.1:$port" --link-secret "$SECRET" --peer-allow-connect "unix://$T/*" --peer-allow-listen "unix://$T/*"
bstart Btcp --link-connect "tcp://127.0.0.1:$port" --link-secret "$SECRET"
wait_link_up Btcp 15
if [ "$(link_field Btcp connect authenticated)" = true ] && [ "$(link_field Atcp accepted authenticated)" = true ]; then
	pass "tcp: both ends report the link authenticated"
else fail "tcp: authenticated: dialer=$(link_field Btcp connect authenticated) acceptor=$(link_field Atcp accepted authenticated)"; fi
exercise tcp "$LINK_BIG_OTHER"
bstop Btcp && [ "$STOP_RC" = 0 ] && pass "tcp: dialer exits 0 on SIGTERM" || fail "tcp: dialer stop: $STOP_RC"
bstop Atcp && [ "$STOP_RC" = 0 ] && pass "tcp: acceptor exits 0 on SIGTERM" || fail "tcp: acceptor stop: $STOP_RC"

# ---- stdio: B spawns A ----
mkdir -p -m 700 "$T/Astdio"
bstart Bstdio --link-connect "exec:$BROKERD --link-stdio --runtime-dir $T/Astdio --state-dir $T/Astdio $LINK_PLUGIN_ARGS"
wait_link_up Bstdio 15
child=$(children_of "$PID_Bstdio")
for p in $child; do record "$p"; done
if [ -n "$child" ] && [ "$(link_field Astdio any role)" = stdio ]; then
	pass "stdio: the spawned broker (pid $child) runs its link over stdin/stdout"
else fail "stdio: spawned broker: pid '$child', role '$(link_field Astdio any role)'"; fi
exercise stdio "$LINK_BIG_OTHER"
bstop Bstdio && [ "$STOP_RC" = 0 ] && pass "stdio: spawning broker exits 0 on SIGTERM" || fail "stdio: spawner stop: $STOP_RC"
gone=1
for p in $child; do wait_until 10 not_alive "$p" || gone=0; done
[ "$gone" = 1 ] && pass "stdio: the spawned broker is gone once its stdin closed" ||
	fail "stdio: the spawned broker $child is still running"

for l in "$T"/A*.log "$T"/B*.log; do
	sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"
done
note "link_transfer took $(elapsed_since "$T0") s"
finish
