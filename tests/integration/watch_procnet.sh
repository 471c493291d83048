#!/bin/sh
# tests/integration/watch_procnet.sh - the procnet watcher in a real guest
# network namespace.
#
# Topology: a network namespace (the "guest", veth GUEST_NET.1/24 host side,
# GUEST_NET.2/24 guest side, a /24 of its own per run) runs the guest brokerd with
# --watch procnet,interval_ms=200 and --link-listen on a unix socket; the
# host brokerd runs in the default namespace with --link-connect.  Checks:
#   1. xfer serve-echo tcp:0.0.0.0:P in the guest -> the host's 127.0.0.1:P
#      echoes through the link; both `mapping list`s show it.
#   2. listeners that live 100 ms (shorter than two scans) never appear in
#      `mapping list` (five of them, checked after each) nor in the log.
#   3. the listener stops -> the mapping disappears and the host port closes.
#
# Needs root, ip netns and nsenter (scripts/bootstrap installs them).
# POSIX sh (dash).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/guest_lib.sh"
plan 16

[ "$(id -u)" -eq 0 ] || bail "needs root (network namespace)"
command -v ip >/dev/null 2>&1 && command -v ss >/dev/null 2>&1 || bail "ip, ss (iproute2) not installed"
command -v nsenter >/dev/null 2>&1 || bail "nsenter (util-linux) not installed"
PN_DIR="$top_builddir/plugins/procnet/.libs"
[ -e "$PN_DIR/procnet.so" ] || bail "procnet plugin not built ($PN_DIR/procnet.so)"

guest_init procnet pn
guest_netns

# --- brokers ------------------------------------------------------------------
guest_brokers --plugin-dir "$PN_DIR" --watch "procnet,interval_ms=200"
wait_log G "procnet.*watching listening sockets" 10 || fail "guest broker did not start the procnet watcher"


# --- 1. a listener appears ----------------------------------------------------
P=$(free_port)
rm -f "$T/echo.ready"
nsenter --net="/run/netns/$NS" "$XFER" serve-echo "tcp:0.0.0.0:$P" --ready "$T/echo.ready" --lifetime 300 >"$T/echo.log" 2>&1 &
EPID=$!
record "$EPID"
wait_until 10 test -s "$T/echo.ready" || bail "echo server in $NS did not start"
if wait_until 15 echo_ok "$P"; then
	pass "guest listener tcp 0.0.0.0:$P: the host's 127.0.0.1:$P echoes through the link"
else
	fail "host 127.0.0.1:$P did not echo within 15 s"
fi
check "guest log: tcp/0.0.0.0:$P reported" log_has G "procnet.*tcp/0.0.0.0:$P: reported"
check "guest 'mapping list' has owner tcp/0.0.0.0:$P" owner_listed G "tcp/0.0.0.0:$P"
check "host 'mapping list' shows port $P" mapping_listed H "$P"

# --- 2. short-lived listeners never appear ----------------------------------------
# Each lives 100 ms from before its listen() (xfer --lifetime-ms) and writes
# its ready file once listening: a listener that never listened proves
# nothing, so all five must have listened.
P2=$(free_port)
i=0
seen=0
listened=0
while [ "$i" -lt 5 ]; do
	rm -f "$T/short.ready"
	nsenter --net="/run/netns/$NS" "$XFER" serve-echo "tcp:0.0.0.0:$P2" --lifetime-ms 100 \
		--ready "$T/short.ready" >>"$T/short.log" 2>&1
	[ -s "$T/short.ready" ] && listened=$((listened + 1))
	for _c in 1 2 3; do
		mapping_listed G "$P2" && seen=1
		mapping_listed H "$P2" && seen=1
		port_closed "$P2" || seen=1
		sleep 0.1
	done
	i=$((i + 1))
done
sleep 0.5
mapping_listed G "$P2" && seen=1
mapping_listed H "$P2" && seen=1
if [ "$listened" -ne 5 ]; then
	fail "only $listened of the five 100 ms listeners on port $P2 listened: $(tail -n 3 "$T/short.log" | tr '\n' ' ')"
elif [ "$seen" -eq 0 ]; then
	pass "five 100 ms listeners on port $P2 (each listened) never appeared (mapping list, host port)"
else
	fail "a 100 ms listener on port $P2 was reported"
fi
if log_has G "tcp/0.0.0.0:$P2: reported"; then
	fail "guest log shows tcp/0.0.0.0:$P2 reported"
else
	pass "guest log never reported tcp/0.0.0.0:$P2"
fi

# --- 3. the listener stops ----------------------------------------------------------
kill -TERM "$EPID" 2>/dev/null
wait "$EPID" 2>/dev/null
check "listener stopped: guest log says tcp/0.0.0.0:$P gone" wait_log G "procnet.*tcp/0.0.0.0:$P: gone" 10
check "guest mapping for $P gone" wait_until 10 mapping_gone G "$P"
check "host mapping for $P gone" wait_until 10 mapping_gone H "$P"
check "host 127.0.0.1:$P closed" wait_until 10 port_closed "$P"

check "guest broker still running" balive G
check "host broker still running" balive H
check "no sanitizer report from the guest broker" sanitizer_clean "$(blog G)"
check "no sanitizer report from the host broker" sanitizer_clean "$(blog H)"
bstop G && [ "$STOP_RC" = 0 ] && pass "guest broker exits 0 on SIGTERM" || fail "guest broker exit: $STOP_RC"
bstop H && [ "$STOP_RC" = 0 ] && pass "host broker exits 0 on SIGTERM" || fail "host broker exit: $STOP_RC"
finish
