#!/bin/sh
# brokerd tells its service manager how it is doing (systemd's notify
# protocol; broker/service.c): brokerd runs with NOTIFY_SOCKET pointing at a
# datagram socket this test owns (tests/tools/notify_sink.py, which records
# each message with its sender's pid and, the moment a READY=1 arrives,
# stops brokerd and connects to the routes' ports).
#   - READY=1 is the first message, and the stored route and the last of
#     1000 routes from the config file (setting them all up takes a while)
#     already listen then;
#   - STATUS= says what runs, again when a route is added and when the link
#     comes up and goes down;
#   - RELOADING=1 then READY=1 around SIGHUP and around brokerctl reload;
#   - STOPPING=1 on SIGTERM, last; every message from brokerd's own pid;
#   - WATCHDOG=1 only when WATCHDOG_USEC asks for it, then again and again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"

plan 16
command -v python3 >/dev/null 2>&1 || bail "python3 not installed (scripts/bootstrap installs it)"
grep -q '^#define HAVE_LIBSYSTEMD 1' "$top_builddir/config.h" ||
	bail "brokerd was built without libsystemd (configure --without-libsystemd): it cannot notify"
SINK="$top_srcdir/tests/tools/notify_sink.py"

# msgs: the messages so far; seq_of PATTERN: the number of the first message matching it.
msgs() { cat "$T/notify.out" 2>/dev/null; }
seq_of() { msgs | grep -E -- "$1" | head -n 1 | cut -d' ' -f1; }
has() { msgs | grep -Eq -- "$1"; }
# has_after SEQ PATTERN: a message after message SEQ matches PATTERN.
has_after() { msgs | awk -v n="$1" '$1 > n' | grep -Eq -- "$2"; }
# start_notified ARGS...: start_broker with NOTIFY_SOCKET (and whatever else
# is exported for it), which nothing started later inherits.
start_notified() {
	NOTIFY_SOCKET="$T/notify.sock"
	export NOTIFY_SOCKET
	start_broker "$@"
	unset NOTIFY_SOCKET WATCHDOG_USEC
}

# A stored route: added to a broker, which then stops.
serve echo echo "tcp:127.0.0.1:0"
PORT=$(free_port)
start_broker
add_route stored "tcp://127.0.0.1:$PORT" "$(xfer_url "$SERVE_ADDR")"
stop_broker || bail "the first broker did not stop"

# 1000 routes in the config file, on Unix sockets in $T/c.
NCONF=1000
mkdir -p "$T/c"
python3 -c '
import json, sys
n, d, to = int(sys.argv[1]), sys.argv[2], sys.argv[3]
json.dump({"routes": [{"name": "conf%d" % i, "listen": "unix://%s/%d.sock" % (d, i), "connect": to}
                      for i in range(1, n + 1)]}, sys.stdout)' $NCONF "$T/c" "$(xfer_url "$SERVE_ADDR")" >"$T/brokerd.json"
R=$((NCONF + 1))

# The sink, then brokerd with NOTIFY_SOCKET; it dials a peer that is not there yet.
python3 "$SINK" "$T/notify.sock" "$T/notify.out" --probe "127.0.0.1:$PORT" --probe "unix:$T/c/$NCONF.sock" \
	--lifetime 240 >"$T/sink.log" 2>&1 &
record $!
wait_until 10 test -S "$T/notify.sock" || bail "notify_sink.py did not bind $T/notify.sock: $(cat "$T/sink.log")"
start_notified --config "$T/brokerd.json" --link-connect "unix://$T/link.sock" --link-backoff-max 1
wait_until 15 has 'READY=1' || bail "no READY=1 within 15 s of the start: $(msgs | tr '\n' ' ')"

# 1-3: READY=1 first, with the stored route listening and the status.
first=$(msgs | head -n 1)
case $first in
"1 $BROKER_PID READY=1 | STATUS="*) pass "READY=1 is the first message, from brokerd: $first" ;;
*) fail "the first message is not READY=1 from brokerd (pid $BROKER_PID): $first" ;;
esac
case $first in
*"[probe=listening]") pass "the stored route and the last config route listened when READY=1 arrived" ;;
*) fail "a route did not listen when READY=1 arrived: $first" ;;
esac
case $first in
*"STATUS=$R routes, link down, 0 mappings "*) pass "STATUS with READY=1: $R routes, link down, 0 mappings" ;;
*) fail "STATUS with READY=1 is not '$R routes, link down, 0 mappings': $first" ;;
esac

# 4-6: the status follows a new route and the link.
add_route added "tcp://127.0.0.1:$(free_port)" "$(xfer_url "$SERVE_ADDR")"
if wait_until 10 has "STATUS=$((R + 1)) routes, link down, 0 mappings\$"; then pass "STATUS after route add: $((R + 1)) routes, link down"
else fail "no STATUS '$((R + 1)) routes, link down, 0 mappings' after route add: $(msgs | tail -n 3 | tr '\n' ' ')"; fi
bstart peer --link-listen "unix://$T/link.sock"
if wait_until 20 has "STATUS=$((R + 1)) routes, link up, 0 mappings\$"; then pass "STATUS when the link came up: $((R + 1)) routes, link up"
else fail "no STATUS '$((R + 1)) routes, link up' within 20 s of the peer's start: $(msgs | tail -n 3 | tr '\n' ' ')"; fi
up=$(seq_of 'link up')
bstop peer
if [ -n "$up" ] && wait_until 30 has_after "$up" "STATUS=$((R + 1)) routes, link down, 0 mappings\$"; then
	pass "STATUS when the link went down: $((R + 1)) routes, link down"
else
	fail "no STATUS 'link down' after the peer stopped: $(msgs | tail -n 3 | tr '\n' ' ')"
fi

# 7-10: reloads, by signal and by brokerctl: RELOADING=1 then READY=1.
n=$(msgs | wc -l)
kill -HUP "$BROKER_PID"
wait_until 10 sh -c "tail -n +$((n + 1)) '$T/notify.out' | grep -q 'READY=1'"
after=$(tail -n +$((n + 1)) "$T/notify.out")
r=$(echo "$after" | grep -n 'RELOADING=1' | head -n 1 | cut -d: -f1)
d=$(echo "$after" | grep -n 'READY=1' | head -n 1 | cut -d: -f1)
if [ -n "$r" ] && [ -n "$d" ] && [ "$r" -lt "$d" ]; then pass "SIGHUP: RELOADING=1, then READY=1"
else fail "SIGHUP: no RELOADING=1 followed by READY=1: $(echo "$after" | tr '\n' ' ')"; fi
if echo "$after" | grep 'RELOADING=1' | grep -Eq 'MONOTONIC_USEC=[0-9]+'; then pass "RELOADING=1 carries MONOTONIC_USEC"
else fail "RELOADING=1 without MONOTONIC_USEC: $(echo "$after" | tr '\n' ' ')"; fi
n=$(msgs | wc -l)
ctl reload >"$T/reload.out" 2>&1 || fail_reload=1
wait_until 10 sh -c "tail -n +$((n + 1)) '$T/notify.out' | grep -q 'READY=1'"
after=$(tail -n +$((n + 1)) "$T/notify.out")
r=$(echo "$after" | grep -n 'RELOADING=1' | head -n 1 | cut -d: -f1)
d=$(echo "$after" | grep -n 'READY=1' | head -n 1 | cut -d: -f1)
if [ -z "${fail_reload:-}" ] && [ -n "$r" ] && [ -n "$d" ] && [ "$r" -lt "$d" ]; then
	pass "brokerctl reload: RELOADING=1, then READY=1"
else
	fail "brokerctl reload ($(cat "$T/reload.out")): no RELOADING=1 followed by READY=1: $(echo "$after" | tr '\n' ' ')"
fi
if echo "$after" | grep 'READY=1' | grep -q "STATUS=$((R + 1)) routes, link down, 0 mappings"; then
	pass "READY=1 after a reload carries the status again"
else
	fail "READY=1 after the reload has no status: $(echo "$after" | tr '\n' ' ')"
fi

# 11-13: SIGTERM: STOPPING=1, last; brokerd exits 0; every message was brokerd's own.
pid=$BROKER_PID
stopped_ok
last=$(msgs | tail -n 1)
case $last in
*"STOPPING=1 | STATUS=stopping (SIGTERM): draining "*) pass "STOPPING=1 is the last message: $last" ;;
*) fail "the last message is not STOPPING=1: $last" ;;
esac
others=$(msgs | awk -v p="$pid" '$2 != p' | head -n 3)
if [ -z "$others" ]; then pass "all $(msgs | wc -l) messages came from brokerd (pid $pid)"
else fail "messages from other pids than brokerd's $pid: $others"; fi

# 14: no WATCHDOG=1 when the manager asked for none.
if has 'WATCHDOG=1'; then fail "WATCHDOG=1 sent without WATCHDOG_USEC: $(msgs | grep WATCHDOG | head -n 2)"
else pass "no WATCHDOG=1 without WATCHDOG_USEC"; fi

# 15-16: WATCHDOG_USEC=400000: a ping every 0.2 s (five wanted, within a
# generous 20 s: a loaded machine delays them, it does not stop them).
: >"$T/notify.out"
WATCHDOG_USEC=400000
export WATCHDOG_USEC
start_notified
wait_until 15 has 'READY=1' || fail_ready=1
pings() { [ "$(msgs | grep -c 'WATCHDOG=1')" -ge 5 ]; }
wait_until 20 pings
pings=$(msgs | grep -c 'WATCHDOG=1')
if [ "$pings" -ge 5 ]; then pass "WATCHDOG_USEC=400000: WATCHDOG=1 pings keep coming ($pings)"
else fail "WATCHDOG_USEC=400000: $pings WATCHDOG=1 pings in 20 s (expected one every 0.2 s)"; fi
if [ -z "${fail_ready:-}" ] && grep -q 'watchdog: the service manager wants a sign of life every 400 ms' "$BROKER_LOG"; then
	pass "brokerd logs the watchdog interval it was given"
else
	fail "no READY=1 or no log line about the watchdog: $(grep -i watchdog "$BROKER_LOG" | head -n 2)"
fi
stop_broker
finish
