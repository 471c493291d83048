#!/bin/sh
# Routes whose listener is on the peer (issue 15, issue 16 item 11): the
# broker that owns the route (B) shows the connections, bytes and errors its
# peer (A) counted, in `route list --json`, in /metrics and on its event feed
# (route.counters), and its STATE names A, not B itself.
#
#   A --link-listen, B --link-connect (two real brokers over a unix carrier).
#   B: pc    peer:unix://pc.sock    -> unix://echo.sock   (5 clients, 1 MiB each way)
#      pcerr peer:unix://pcerr.sock -> unix://missing.sock (1 client: an error)
#   then A restarts (a new listener: counters start again on A) and one more
#   client passes: B's totals go on from where they were (6 clients, 6 MiB).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 13
command -v curl >/dev/null 2>&1 || bail "curl not installed (scripts/bootstrap installs it)"
command -v jq >/dev/null 2>&1 || bail "jq not installed (scripts/bootstrap installs it)"

MIB=1048576
serve echo echo "unix:$T/echo.sock"
hport=$(free_port) || bail "no free port"

bstart A --link-listen "unix://$T/link.sock" --peer-allow-listen "unix://$T/*"
bstart B --link-connect "unix://$T/link.sock" --http-listen "127.0.0.1:$hport"
wait_link_up B 15 || bail "link not up within 15 s"
A_ID=$(link_field B any peer_id)
B_ID=$(link_field A any peer_id)
[ -n "$A_ID" ] && [ -n "$B_ID" ] && [ "$A_ID" != "$B_ID" ] || bail "broker ids: A '$A_ID', B '$B_ID'"

# The event feed first, so it sees every report.
"$BROKERCTL" --runtime-dir "$T/B" --json watch route.counters >"$T/watch.out" 2>"$T/watch.err" &
record $!

broute B pc "peer:unix://$T/pc.sock" "unix://$T/echo.sock"
broute B pcerr "peer:unix://$T/pcerr.sock" "unix://$T/missing.sock"
wait_until 10 test -S "$T/pc.sock" || bail "A never listened on $T/pc.sock: $(route_line B pc)"
wait_until 10 test -S "$T/pcerr.sock" || bail "A never listened on $T/pcerr.sock: $(route_line B pcerr)"

# route_num BROKER ROUTE FIELD: one counter of `route list --json`.
route_num() {
	bctl "$1" --json route list 2>/dev/null >"$T/rl.json" || return 1
	jq -r --arg n "$2" --arg f "$3" '.[] | select(.name == $n) | .[$f]' "$T/rl.json"
}
route_state() {
	bctl "$1" --json route list 2>/dev/null | jq -r --arg n "$2" '.[] | select(.name == $n) | .state'
}

# STATE on the owning side names the peer that listens, not the owner itself.
wait_until 10 sh -c "'$BROKERCTL' --runtime-dir '$T/B' route list | grep -w pc | grep -q listening"
st=$(route_state B pc)
case $st in
*"(peer $A_ID)"*) pass "STATE of pc on B names the peer that listens: $st" ;;
*) fail "STATE of pc on B: '$st' (want the peer's id $A_ID)" ;;
esac
case $st in
*"$B_ID"*) fail "STATE of pc on B names B itself ($B_ID): $st" ;;
*) pass "STATE of pc on B does not name B's own id" ;;
esac
case $(route_state A pc) in
*"for peer $B_ID"*) pass "STATE of pc on A names its owner B: $(route_state A pc)" ;;
*) fail "STATE of pc on A: '$(route_state A pc)' (want 'for peer $B_ID')" ;;
esac

n=0 bad=""
while [ $n -lt 5 ]; do
	n=$((n + 1))
	"$XFER" send "unix:$T/pc.sock" 1M --seed "$n" --expect echo --io-timeout 20 >"$T/c$n.out" 2>&1 ||
		bad="$bad client $n: $(cat "$T/c$n.out");"
done
if [ -z "$bad" ]; then pass "5 clients moved 1 MiB each way through pc (checksums match)"
else fail "clients through pc:$bad"; fi
# One client on pcerr: B cannot connect its target, A counts the error.
"$XFER" send "unix:$T/pcerr.sock" 1K --io-timeout 10 >/dev/null 2>&1

counters_are() {   # ROUTE CONNS ACTIVE BYTES_IN BYTES_OUT ERRORS
	[ "$(route_num B "$1" conns_total)" = "$2" ] && [ "$(route_num B "$1" conns_active)" = "$3" ] &&
		[ "$(route_num B "$1" bytes_in)" = "$4" ] && [ "$(route_num B "$1" bytes_out)" = "$5" ] &&
		[ "$(route_num B "$1" errors)" = "$6" ]
}
show() { jq -c --arg n "$2" '.[] | select(.name == $n) | [.conns_total, .conns_active, .bytes_in, .bytes_out, .errors]' "$T/rl.json"; }
if wait_until 10 counters_are pc 5 0 $((5 * MIB)) $((5 * MIB)) 0; then
	pass "route list on B (the owner): pc 5 connections, 0 open, $((5 * MIB)) bytes in and out, 0 errors"
else fail "route list on B: pc [conns, active, in, out, errors] = $(show B pc), want [5,0,$((5 * MIB)),$((5 * MIB)),0]"; fi
if wait_until 10 counters_are pcerr 1 0 "$(route_num A pcerr bytes_in)" 0 1; then
	pass "route list on B: pcerr 1 connection, 1 error (B could not connect its target)"
else fail "route list on B: pcerr = $(show B pcerr), want 1 connection and 1 error"; fi
# What A counted is what B shows.
diff=""
for f in conns_total bytes_in bytes_out errors; do
	a=$(route_num A pc "$f"); b=$(route_num B pc "$f")
	[ "$a" = "$b" ] || diff="$diff $f: A counted $a, B shows $b;"
done
if [ -z "$diff" ]; then pass "B's counters for pc equal A's"
else fail "pc:$diff"; fi

curl -s --max-time 5 "http://127.0.0.1:$hport/metrics" >"$T/metrics" || bail "GET /metrics on B"
metric() { grep -F "$1" "$T/metrics" | awk '{print $NF}'; }
if [ "$(metric 'broker_route_connections_total{route="pc"}')" = 5 ] &&
	[ "$(metric 'broker_route_bytes_total{route="pc",direction="in"}')" = $((5 * MIB)) ] &&
	[ "$(metric 'broker_route_bytes_total{route="pc",direction="out"}')" = $((5 * MIB)) ] &&
	[ "$(metric 'broker_route_errors_total{route="pcerr"}')" = 1 ]; then
	pass "/metrics on B: pc 5 connections, $((5 * MIB)) bytes each way; pcerr 1 error"
else fail "/metrics on B: $(grep 'route="pc' "$T/metrics" | tr '\n' ' ')"; fi

want="route pc: 5 connections (0 open), $((5 * MIB)) bytes in, $((5 * MIB)) bytes out, 0 errors (listener on peer $A_ID)"
if wait_until 5 grep -qF "$want" "$T/watch.out"; then
	pass "event feed on B: route.counters \"$want\""
else fail "event feed on B: no \"$want\" in: $(tail -n 3 "$T/watch.out") $(cat "$T/watch.err")"; fi
if grep '"route.counters"' "$T/watch.out" >/dev/null; then
	pass "route.counters events carry their kind ($(wc -l <"$T/watch.out") events)"
else fail "no route.counters kind in the feed: $(head -n 2 "$T/watch.out")"; fi

# A restarts: its listener (and counters) are new; B keeps the totals and adds.
bstop A
if wait_until 10 sh -c "'$BROKERCTL' --runtime-dir '$T/B' route list | grep -w pc | grep -q 'waiting for the link'"; then
	pass "pc on B waits for the link while A is down (totals kept: $(route_num B pc conns_total) connections)"
else fail "pc on B after A stopped: $(route_line B pc)"; fi
rm -f "$T/pc.sock" "$T/pcerr.sock"
bstart A --link-listen "unix://$T/link.sock" --peer-allow-listen "unix://$T/*"
wait_link_up B 20 || bail "link not up again within 20 s"
wait_until 10 test -S "$T/pc.sock" || bail "A never listened again on $T/pc.sock"
"$XFER" send "unix:$T/pc.sock" 1M --seed 9 --expect echo --io-timeout 20 >"$T/c9.out" 2>&1
c9=$?
if [ $c9 -eq 0 ] && wait_until 10 counters_are pc 6 0 $((6 * MIB)) $((6 * MIB)) 0; then
	pass "after A restarted: B shows 6 connections and $((6 * MIB)) bytes each way (A counts 1 now)"
else fail "after A restarted (client: $(cat "$T/c9.out")): pc on B = $(show B pc), want [6,0,$((6 * MIB)),$((6 * MIB)),0]; A: $(route_num A pc conns_total)"; fi
case $(route_state B pc) in
*"(peer $A_ID)"*) pass "STATE after the new link still names peer $A_ID" ;;
*) fail "STATE after the new link: $(route_state B pc)" ;;
esac
bstop B
bstop A
finish
