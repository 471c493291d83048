#!/bin/sh
# tests/integration/watch_iptables.sh - the iptables watcher against real
# nat rules in a guest network namespace.
#
# Topology: a network namespace (the "guest", veth GUEST_NET.1/24 host side,
# GUEST_NET.2/24 guest side, a /24 of its own per run) holds the rules (made with the real iptables)
# and runs the guest brokerd with --watch iptables,interval_ms=500 and
# --link-listen on a unix socket; the host brokerd runs in the default
# namespace with --link-connect.  Checks:
#   1. -A DOCKER -p tcp --dport P -j DNAT --to-destination GUEST_IP:Q with
#      xfer serve-echo on GUEST_IP:Q in the guest -> the host's
#      127.0.0.1:P echoes through the link; both `mapping list`s show it,
#      owner DOCKER:tcp:P.
#   2. a udp DNAT rule in CNI-DN-test -> the host lists udp port PU.
#   3. a DNAT rule in a chain that is not watched never appears.
#   4. an ip6tables rule shows as owner DOCKER:tcp:P6:v6 on the guest (a
#      kernel without an IPv6 nat table is a skip, which fails the run: it
#      is not in tests/expected-skips).
#   5. the rule is deleted -> the mapping disappears and the host port closes.
#
# Needs root, ip netns, nsenter and iptables/ip6tables (scripts/bootstrap
# installs them); bails with the reason otherwise.  POSIX sh (dash).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/guest_lib.sh"
plan 21

[ "$(id -u)" -eq 0 ] || bail "needs root (network namespace, iptables)"
command -v ip >/dev/null 2>&1 && command -v ss >/dev/null 2>&1 || bail "ip, ss (iproute2) not installed"
command -v nsenter >/dev/null 2>&1 || bail "nsenter (util-linux) not installed"
command -v iptables >/dev/null 2>&1 || bail "iptables not installed (apt-get install iptables)"
command -v iptables-save >/dev/null 2>&1 || bail "iptables-save not installed (apt-get install iptables)"
command -v ip6tables >/dev/null 2>&1 || bail "ip6tables not installed (apt-get install iptables)"
IPT_DIR="$top_builddir/plugins/iptables/.libs"
[ -e "$IPT_DIR/iptables.so" ] || bail "iptables plugin not built ($IPT_DIR/iptables.so)"

guest_init ipt ip
guest_netns

ipt() { in_ns iptables -w 5 -t nat "$@"; }

ipt -N DOCKER 2>"$T/ipt.err" || bail "iptables cannot make a nat chain in a namespace: $(cat "$T/ipt.err")"
ipt -N CNI-DN-test || bail "iptables -N CNI-DN-test"
ipt -N OTHER || bail "iptables -N OTHER"

# --- brokers ------------------------------------------------------------------
guest_brokers --plugin-dir "$IPT_DIR" --watch "iptables,interval_ms=500"
wait_log G "iptables.*watching nat chains" 10 || bail "guest broker did not start the iptables watcher"


# --- 1. a DNAT rule appears ------------------------------------------------------
P=$(free_port)
Q=$(free_port)
rm -f "$T/echo.ready"
nsenter --net="/run/netns/$NS" "$XFER" serve-echo "tcp:$GUEST_IP:$Q" --ready "$T/echo.ready" --lifetime 300 >"$T/echo.log" 2>&1 &
record $!
wait_until 10 test -s "$T/echo.ready" || bail "echo server on $GUEST_IP:$Q did not start"
RULE="DOCKER ! -i lo -p tcp -m tcp --dport $P -j DNAT --to-destination $GUEST_IP:$Q"
ipt -A $RULE || bail "iptables -A $RULE"
if wait_until 15 echo_ok "$P"; then
	pass "DNAT rule --dport $P -> $GUEST_IP:$Q: the host's 127.0.0.1:$P echoes through the link"
else
	fail "host 127.0.0.1:$P did not echo within 15 s"
fi
check "guest log: DOCKER:tcp:$P reported" log_has G "iptables.*DOCKER:tcp:$P: reported"
check "guest 'mapping list' has owner DOCKER:tcp:$P" owner_listed G "DOCKER:tcp:$P"
check "host 'mapping list' shows port $P" mapping_listed H "$P"

# --- 2. udp in a CNI-DN-* chain ------------------------------------------------------
PU=$(free_port)
ipt -A CNI-DN-test -p udp -m udp --dport "$PU" -j DNAT --to-destination "$GUEST_IP:53" ||
	bail "iptables udp rule"
check "udp rule in CNI-DN-test: guest log reports CNI-DN-test:udp:$PU" wait_log G "iptables.*CNI-DN-test:udp:$PU: reported" 10
check "host lists udp port $PU" wait_until 10 mapping_listed H "$PU"

# --- 3. a chain that is not watched ------------------------------------------------------
PO=$(free_port)
ipt -A OTHER -p tcp --dport "$PO" -j DNAT --to-destination "$GUEST_IP:$Q" || bail "iptables OTHER rule"
sleep 2
if log_has G "OTHER:tcp:$PO" || mapping_listed G "$PO" || mapping_listed H "$PO"; then
	fail "rule in chain OTHER (not watched) was reported"
else
	pass "rule in chain OTHER (not watched) not reported"
fi

# --- 4. ip6tables --------------------------------------------------------------------------
P6=$(free_port)
if in_ns ip6tables -w 5 -t nat -N DOCKER 2>"$T/ip6t.err"; then
	in_ns ip6tables -w 5 -t nat -A DOCKER -p tcp --dport "$P6" -j DNAT --to-destination "[fd00::2]:80" 2>"$T/ip6t.err" ||
		bail "ip6tables -A DOCKER: $(cat "$T/ip6t.err")"
	check "ip6tables rule: guest log reports DOCKER:tcp:$P6:v6" wait_log G "iptables.*DOCKER:tcp:$P6:v6: reported" 10
else
	skip_one "ip6tables has no nat table here: $(head -c 200 "$T/ip6t.err")"
fi

# --- 5. the rule is deleted -------------------------------------------------------------
ipt -D $RULE || bail "iptables -D $RULE"
check "rule deleted: guest log says DOCKER:tcp:$P gone" wait_log G "iptables.*DOCKER:tcp:$P: gone" 10
check "guest mapping for $P gone" wait_until 10 mapping_gone G "$P"
check "host mapping for $P gone" wait_until 10 mapping_gone H "$P"
check "host 127.0.0.1:$P closed" wait_until 10 port_closed "$P"
check "udp mapping $PU still there" mapping_listed H "$PU"
check "udp rule not removed" eval '! log_has G "CNI-DN-test:udp:$PU: gone"'

if log_has G "iptables.*(killed|cannot run)"; then
	fail "guest log shows a failed iptables-save run"
else
	pass "every iptables-save run worked"
fi
check "guest broker still running" balive G
check "host broker still running" balive H
check "no sanitizer report from the guest broker" sanitizer_clean "$(blog G)"
check "no sanitizer report from the host broker" sanitizer_clean "$(blog H)"
bstop G && [ "$STOP_RC" = 0 ] && pass "guest broker exits 0 on SIGTERM" || fail "guest broker exit: $STOP_RC"
bstop H && [ "$STOP_RC" = 0 ] && pass "host broker exits 0 on SIGTERM" || fail "host broker exit: $STOP_RC"
finish
