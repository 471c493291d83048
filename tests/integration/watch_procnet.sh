#!/bin/sh
# tests/integration/watch_procnet.sh - the procnet watcher in a real guest
# network namespace.
#
# Topology: a network namespace (the "guest", veth GUEST_NET.1/24 host side,
# GUEST_NET.2/24 guest side, a /24 of its own per run) runs the guest brokerd with
# --watch procnet,interval_ms=1000 and --link-listen on a unix socket; the
# host brokerd runs in the default namespace with --link-connect.  Checks:
#   1. xfer serve-echo tcp:0.0.0.0:P in the guest -> the host's 127.0.0.1:P
#      echoes through the link; both `mapping list`s show it.
#   2. listeners that live 300 ms (shorter than one interval) never appear in
#      `mapping list` (ten of them, checked after each) nor in the log.
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
# Scans every INTERVAL ms; the short-lived listeners of section 2 live LIFE
# ms, and only those that provably listened for less than INTERVAL - 200 ms
# count.
INTERVAL=1000
LIFE=300
guest_brokers --plugin-dir "$PN_DIR" --watch "procnet,interval_ms=$INTERVAL"
wait_log G "procnet.*watching listening sockets" 10 || bail "guest broker did not start the procnet watcher"


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
# Each lives LIFE ms from before its listen() (xfer --lifetime-ms) and writes
# its ready file once listening: a listener that never listened proves
# nothing.  Scans start INTERVAL ms apart, so a listener can be in two of
# them only if it listened longer than INTERVAL less the time a scan takes
# to reach it.  How long each one listened is bounded from above by the time
# from its lifetime timer (xfer prints when it started it, before listen())
# to the end of its process; only those under INTERVAL - 200 ms count, and
# ten must: on a loaded machine a slow one is replaced by another (at most
# 40 tries, each on a port of its own) instead of failing on timing.  A
# watcher that reports what it saw in one scan only is caught with a chance
# of about 1 - (1 - LIFE/INTERVAL)^10, 97 %.
short_ports=""
used=" "
tried=0
spans=""
seen=""
while [ "$(echo $short_ports | wc -w)" -lt 10 ] && [ "$tried" -lt 40 ]; do
	tried=$((tried + 1))
	P2=$(free_port)
	case $used in *" $P2 "*) continue ;; esac
	used="$used$P2 "
	rm -f "$T/short.ready"
	nsenter --net="/run/netns/$NS" "$XFER" serve-echo "tcp:0.0.0.0:$P2" --lifetime-ms "$LIFE" \
		--ready "$T/short.ready" >"$T/short.out" 2>&1
	_end=$(date +%s%N)
	cat "$T/short.out" >>"$T/short.log"
	_from=$(sed -n 's/^lifetime timer started at \([0-9]*\)$/\1/p' "$T/short.out")
	[ -n "$_from" ] || bail "xfer --lifetime-ms did not say when its timer started: $(head -c 300 "$T/short.out")"
	_span=$(((_end - _from) / 1000000))
	spans="$spans $_span$([ -s "$T/short.ready" ] || echo '(never listened)')"
	[ -s "$T/short.ready" ] && [ "$_span" -lt $((INTERVAL - 200)) ] || continue
	short_ports="$short_ports $P2"
	for _c in 1 2 3; do
		mapping_listed G "$P2" && seen="$seen G:$P2"
		mapping_listed H "$P2" && seen="$seen H:$P2"
		port_closed "$P2" || seen="$seen host-port:$P2"
		sleep 0.1
	done
done
sleep 0.5
for P2 in $short_ports; do
	mapping_listed G "$P2" && seen="$seen G:$P2"
	mapping_listed H "$P2" && seen="$seen H:$P2"
done
n_short=$(echo $short_ports | wc -w)
if [ "$n_short" -lt 10 ]; then
	fail "only $n_short of $tried $LIFE ms listeners listened and ended within $((INTERVAL - 200)) ms (ms from timer to exit:$spans) $(tail -n 3 "$T/short.log" | tr '\n' ' ')"
elif [ -z "$seen" ]; then
	pass "ten $LIFE ms listeners (each listened; ms from timer to exit:$spans) never appeared (mapping list, host port)"
else
	fail "a $LIFE ms listener was reported:$seen (ms from timer to exit:$spans)"
fi
logged=""
for P2 in $short_ports; do
	log_has G "tcp/0.0.0.0:$P2: reported" && logged="$logged $P2"
done
if [ -n "$logged" ]; then
	fail "guest log shows short-lived listeners reported:$logged"
elif [ "$n_short" -lt 10 ]; then
	fail "guest log: fewer than ten short-lived listeners to judge ($n_short)"
else
	pass "guest log never reported the ten short-lived listeners"
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
