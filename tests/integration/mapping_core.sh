#!/bin/sh
# tests/integration/mapping_core.sh - the mapping core end to end: a guest
# broker G reports ports with the static_watch test watcher and exports them
# over a unix link; the host broker H serves them as listeners that forward
# through the link.  Helpers in mapping_lib.sh.
#
#  (a) tcp 0.0.0.0:P -> 127.0.0.1:ECHO appears on H's 127.0.0.1:P (not
#      0.0.0.0) within a bound; 1 MiB echoes with matching checksums; the
#      host's mapping list shows it with its counters.
#  (b) a second owner of the same port is in conflict on G and not served;
#      removing the first (edit + SIGHUP) serves the second, whose target is a
#      sink server: the data provably goes to it.
#  (c) a port below 1024 is refused on H with the reason, and served once H
#      runs with --mapping-allow-privileged (needs root or a low
#      ip_unprivileged_port_start; a bail otherwise).
#  (d) host_ip "::" is served on [::1]:P, beside an IPv4 mapping of another
#      owner on the same port (different family: no conflict); no ::1 here
#      is a skip, which fails the run (not in tests/expected-skips).
#  (e) hostile entries (port 0, connect "x", host_ip "999.1.1.1") are logged
#      and ignored; the good entry of the same owner and every other mapping
#      still work.
#  (f) udp 0.0.0.0:P -> a UDP echo server: datagrams of 0, 1, 1400, 9000 and
#      60000 bytes come back identical through H's 127.0.0.1:P.
# POSIX sh (dash).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/mapping_lib.sh"
plan 46

BOUND=10                  # seconds for a mapping change to reach the host

# --- target servers -----------------------------------------------------------
serve echo echo "tcp:127.0.0.1:0"
ECHO=${SERVE_ADDR#tcp:}
serve sink sink "tcp:127.0.0.1:0"
SINK=${SERVE_ADDR#tcp:}
HAVE_V6=0
if "$XFER" free-port --ipv6 >/dev/null 2>&1; then HAVE_V6=1; fi
HAVE_UDP=0
if [ -x "$UDPECHO" ]; then
	rm -f "$T/uecho.ready"
	"$UDPECHO" serve 127.0.0.1:0 --ready "$T/uecho.ready" --lifetime 300 >"$T/uecho.log" 2>&1 &
	record $!
	wait_until 10 test -s "$T/uecho.ready" || bail "udpecho server did not start"
	UECHO=$(cat "$T/uecho.ready")
	HAVE_UDP=1
fi

# --- ports --------------------------------------------------------------------
P_WEB=$(free_port)
P_DUP=$(free_port)
P_V6=$(free_port --ipv6 2>/dev/null || free_port)
P_HGOOD=$(free_port)
P_HX=$(free_port)
P_H999=$(free_port)
P_UDP=$("$UDPECHO" free-port 2>/dev/null || free_port)
# A free privileged port (TCP, any address).
P_LOW=
for _p in 1013 1009 997 991 983 977 971 967 953 947 941 937; do
	if port_not_listening "$_p"; then P_LOW=$_p; break; fi
done
[ -n "$P_LOW" ] || bail "no free port below 1024 for case (c)"

ports_reset
pe web tcp 0.0.0.0 "$P_WEB" "$ECHO" "web server"
pe first tcp 0.0.0.0 "$P_DUP" "$ECHO" "first comer"
pe low tcp 0.0.0.0 "$P_LOW" "$ECHO" "privileged"
if [ "$HAVE_V6" -eq 1 ]; then
	pe v6 tcp :: "$P_V6" "$ECHO" "ipv6 any"
	pe v4same tcp 0.0.0.0 "$P_V6" "$SINK" "ipv4 on the v6 port"
fi
pe hostile tcp 0.0.0.0 0 "$ECHO"
pe hostile tcp 0.0.0.0 "$P_HX" "x"
pe hostile tcp 999.1.1.1 "$P_H999" "$ECHO"
pe hostile tcp 0.0.0.0 "$P_HGOOD" "$ECHO"
[ "$HAVE_UDP" -eq 1 ] && pe dns udp 0.0.0.0 "$P_UDP" "$UECHO" "udp echo"
ports_write

start_guest
json_probe G
T0=$(now_ms)
start_host
wait_link_up H 15 || bail "link between the brokers did not come up"

# --- (a) a tcp mapping appears and forwards -------------------------------------
if within "$BOUND" tcp_listening "127.0.0.1:$P_WEB"; then
	pass "(a) tcp 0.0.0.0:$P_WEB on the guest: host listens on 127.0.0.1:$P_WEB after $(($(now_ms) - T0)) ms (bound ${BOUND} s)"
else
	bail "(a) host not listening on 127.0.0.1:$P_WEB within ${BOUND} s: $(ss -Hltn "sport = :$P_WEB")"
fi
check "(a) default bind policy: nothing on 0.0.0.0:$P_WEB" tcp_not_listening "0.0.0.0:$P_WEB"
if "$XFER" send "tcp:127.0.0.1:$P_WEB" 1M --expect echo --timeout 30 --io-timeout 10 >"$T/a.out" 2>&1; then
	pass "(a) 1 MiB through 127.0.0.1:$P_WEB echoes with matching sha256 ($(sed 's/.* in /in /' "$T/a.out"))"
else
	fail "(a) 1 MiB echo through 127.0.0.1:$P_WEB: $(cat "$T/a.out")"
fi
jcheck "(a) guest lists web as local, exported" G \
	'any(.[]; .owner == "web" and .origin == "local" and .source == "static_watch" and .state == "exported" and .host_port == $p and .host_ip == "0.0.0.0" and .connect == [$c] and .description == "web server" and .proto == "tcp")' \
	--argjson p "$P_WEB" --arg c "$ECHO"
jcheck "(a) host lists web as peer, listening on tcp://127.0.0.1:$P_WEB, with its traffic counted" H \
	'any(.[]; .owner == "web" and .origin == "peer" and .listen == $l and (.state | startswith("listening")) and .host_port == $p and .connect == [$c] and .conns_total >= 1 and .bytes_in >= 1048576 and .bytes_out >= 1048576)' \
	--argjson p "$P_WEB" --arg c "$ECHO" --arg l "tcp://127.0.0.1:$P_WEB"

# --- (b) conflicts: first wins; removing it serves the second -------------------
pe second tcp 0.0.0.0 "$P_DUP" "$SINK" "second comer"
ports_reload
if wait_json "$BOUND" G 'any(.[]; .owner == "second" and (.state | startswith("conflict:")))'; then
	jcheck "(b) guest: second is in conflict, naming the holder" G \
		'any(.[]; .owner == "second" and .host_port == $p and (.state | startswith("conflict:")) and (.state | contains("first")))' \
		--argjson p "$P_DUP"
	jcheck "(b) guest: first still exported" G 'any(.[]; .owner == "first" and .state == "exported")'
else
	fail "(b) guest never showed second in conflict: $(mshow G 'select(.host_port == '"$P_DUP"')')"
fi
check "(b) host serves first (echo) on 127.0.0.1:$P_DUP" within "$BOUND" echo_ok "tcp:127.0.0.1:$P_DUP"
jcheck "(b) host lists only first for port $P_DUP" H \
	'[.[] | select(.host_port == $p)] | length == 1 and .[0].owner == "first"' --argjson p "$P_DUP"
pe_drop first
ports_reload
if within "$BOUND" sink_ok "tcp:127.0.0.1:$P_DUP" 64K; then
	pass "(b) first removed: 127.0.0.1:$P_DUP now reaches second's target (the sink's count and sha256 match)"
else
	fail "(b) first removed: 127.0.0.1:$P_DUP does not reach the sink within ${BOUND} s: $(tr '\n' ' ' <"$T/check.out" 2>/dev/null)"
fi
check "(b) ... and no longer echoes" sh -c "! '$XFER' send tcp:127.0.0.1:$P_DUP 4096 --expect echo --timeout 5 --io-timeout 3"
jcheck "(b) guest: second exported, first gone" G \
	'any(.[]; .owner == "second" and .state == "exported") and all(.[]; .owner != "first")'
jcheck "(b) host: second listening on $P_DUP, first gone" H \
	'[.[] | select(.host_port == $p)] | length == 1 and .[0].owner == "second" and (.[0].state | startswith("listening")) and .[0].connect == [$c]' \
	--argjson p "$P_DUP" --arg c "$SINK"

# --- (d) IPv6 -------------------------------------------------------------------
if [ "$HAVE_V6" -eq 1 ]; then
	check "(d) host_ip :: is served on [::1]:$P_V6" within "$BOUND" tcp_listening "[::1]:$P_V6"
	check "(d) [::1]:$P_V6 echoes 256 KiB" echo_ok "tcp:[::1]:$P_V6" 256K
	check "(d) IPv4 owner of the same port: 127.0.0.1:$P_V6 reaches its sink (no cross-family conflict)" \
		within "$BOUND" sink_ok "tcp:127.0.0.1:$P_V6"
	check "(d) nothing on [::]:$P_V6 (loopback bind policy)" tcp_not_listening "[::]:$P_V6"
	jcheck "(d) guest: neither v6 nor v4same is in conflict" G \
		'[.[] | select(.owner == "v6" or .owner == "v4same") | .state] == ["exported", "exported"]'
	jcheck "(d) host: v6 listens on tcp://[::1]:$P_V6" H \
		'any(.[]; .owner == "v6" and .host_ip == "::" and .listen == $l and (.state | startswith("listening")))' \
		--arg l "tcp://[::1]:$P_V6"
else
	# Six results either way; a skip fails the run (not in tests/expected-skips).
	for _i in 1 2 3 4 5 6; do skip_one "(d) no IPv6 loopback here (::1 cannot be bound)"; done
fi

# --- (e) hostile entries ----------------------------------------------------------
check "(e) guest logs port 0 and ignores it" log_has G "hostile: ignoring mapping .*host port 0 is not a port"
check "(e) guest logs connect 'x' and ignores it" log_has G "hostile: ignoring mapping .*connect address 'x' is not HOST:PORT"
check "(e) guest logs host ip 999.1.1.1 and ignores it" log_has G "hostile: ignoring mapping .*host ip '999.1.1.1' is not an IPv4 or IPv6 address"
check "(e) the good entry of the hostile owner is served (127.0.0.1:$P_HGOOD echoes)" \
	within "$BOUND" echo_ok "tcp:127.0.0.1:$P_HGOOD"
check "(e) nothing listens for the 'x' entry (port $P_HX)" port_not_listening "$P_HX"
check "(e) nothing listens for the 999.1.1.1 entry (port $P_H999)" port_not_listening "$P_H999"
check "(e) web still echoes" echo_ok "tcp:127.0.0.1:$P_WEB" 64K
jcheck "(e) host: hostile has exactly its one good mapping" H \
	'[.[] | select(.owner == "hostile")] | length == 1 and .[0].host_port == $p' --argjson p "$P_HGOOD"
jcheck "(e) no port 0, no 999.1.1.1, no connect x anywhere on either side" G \
	'all(.[]; .host_port != 0 and .host_ip != "999.1.1.1" and (.connect | index("x") | not))'
jcheck "(e) ... nor on the host" H \
	'all(.[]; .host_port != 0 and .host_ip != "999.1.1.1" and (.connect | index("x") | not))'

# --- (f) UDP ------------------------------------------------------------------------
if [ "$HAVE_UDP" -eq 1 ]; then
	check "(f) udp 0.0.0.0:$P_UDP is bound on the host's 127.0.0.1:$P_UDP" within "$BOUND" udp_bound "127.0.0.1:$P_UDP"
	if "$UDPECHO" check "127.0.0.1:$P_UDP" 0 1 1400 9000 60000 0 60000 --timeout 15 >"$T/f.out" 2>&1; then
		pass "(f) udp datagrams of 0, 1, 1400, 9000 and 60000 bytes come back identical ($(tr '\n' ' ' <"$T/f.out"))"
	else
		fail "(f) udp round trips through 127.0.0.1:$P_UDP: $(tr '\n' ' ' <"$T/f.out")"
	fi
	jcheck "(f) host lists the udp mapping" H \
		'any(.[]; .owner == "dns" and .proto == "udp" and .listen == $l)' --arg l "udp://127.0.0.1:$P_UDP"
else
	fail "(f) udpecho not built ($UDPECHO): include tests/tools/udpecho.mk"
fi

# --- (c) privileged ports -----------------------------------------------------------
check "(c) port $P_LOW is not served by default" port_not_listening "$P_LOW"
check "(c) host log gives the reason" log_has H "port $P_LOW is below 1024 \\(start this broker with --mapping-allow-privileged\\)"
jcheck "(c) host mapping list: refused with the reason" H \
	'any(.[]; .owner == "low" and (.state | startswith("refused:")) and (.state | contains("below 1024")) and .listen == "")'
UNPRIV=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
[ "$(id -u)" -eq 0 ] || [ "$UNPRIV" -le "$P_LOW" ] ||
	bail "(c) the privileged half needs root (or net.ipv4.ip_unprivileged_port_start <= $P_LOW; it is $UNPRIV)"
bstop H && [ "$STOP_RC" = 0 ] && pass "host broker exits 0 on SIGTERM" || fail "host broker exit: $STOP_RC"
start_host --mapping-allow-privileged
wait_link_up H 15 || bail "(c) link did not come back after the host restart"
check "(c) with --mapping-allow-privileged 127.0.0.1:$P_LOW is served" within "$BOUND" tcp_listening "127.0.0.1:$P_LOW"
check "(c) ... and echoes" within "$BOUND" echo_ok "tcp:127.0.0.1:$P_LOW"
jcheck "(c) host mapping list: low is listening" H \
	'any(.[]; .owner == "low" and (.state | startswith("listening")))'
check "(c) web still echoes after the host restart" within "$BOUND" echo_ok "tcp:127.0.0.1:$P_WEB"

check "guest broker still running" balive G
check "host broker still running" balive H
check "no sanitizer report from the guest broker" sanitizer_clean "$(blog G)"
check "no sanitizer report from the host broker" sanitizer_clean "$(blog H)"
bstop H && [ "$STOP_RC" = 0 ] && pass "host broker exits 0 on SIGTERM" || fail "host broker exit: $STOP_RC"
bstop G && [ "$STOP_RC" = 0 ] && pass "guest broker exits 0 on SIGTERM" || fail "guest broker exit: $STOP_RC"
finish
