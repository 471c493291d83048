#!/bin/sh
# tests/integration/route_peer.sh - route add with a listener on the peer
# (brokerctl(1): an endpoint that cannot be opened is reported and nothing is
# stored).  B dials A; routes are added on B with --listen peer:URL.
#
#   link up, the peer listens: exit 0, the state says where it listens;
#   link up, the peer refuses (address in use, unknown scheme, unknown
#     parameter): exit 1 with the peer's reason, nothing stored (not listed,
#     not back after a restart);
#   the peer does not answer in time (A stopped with SIGSTOP): exit 3,
#     stored; once A runs again its answer shows in the state;
#   the link is down: exit 3, "the link to the peer is down", stored, and
#     the peer listens once the link is back;
#   no link configured at all: exit 1, nothing stored (peer: listen or connect).
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 18

LINK="unix://$T/link.sock"
serve echo echo "unix:$T/echo.sock"
ECHO="unix://$T/echo.sock"

# radd NAME OUT ARGS...: brokerctl route add on B; stdout OUT.out, stderr OUT.err, status RADD_RC.
radd() {
	_n=$1; _o=$2; shift 2
	bctl B "$@" route add "$_n" >"$T/$_o.out" 2>"$T/$_o.err"
	RADD_RC=$?
}
listed() { bctl "$1" route list 2>/dev/null | awk -v n="$2" '$1 == n { f = 1 } END { exit !f }'; }
state_of() { bctl "$1" --json route list 2>/dev/null | jq -r --arg n "$2" '.[] | select(.name == $n) | .state'; }
command -v jq >/dev/null 2>&1 || bail "jq not installed (scripts/bootstrap installs it)"

bstart A --link-listen "$LINK" --peer-allow-listen '*'
bstart B --link-connect "$LINK" --link-backoff-max 1
wait_link_up B 15 || bail "the link did not come up"

# --- the peer listens ---------------------------------------------------------
radd ok ok --listen "peer:tcp://127.0.0.1:0" --connect "$ECHO"
if [ "$RADD_RC" -eq 0 ] && grep -Eq "^route ok: peer:tcp://127\.0\.0\.1:0 -> $ECHO \(listening on tcp://127\.0\.0\.1:[1-9][0-9]* .*\)\$" "$T/ok.out"; then
	pass "peer listens: exit 0, $(cat "$T/ok.out")"
else fail "peer listens: exit $RADD_RC: $(cat "$T/ok.out" "$T/ok.err")"; fi
if ! grep -q "waiting" "$T/ok.out"; then pass "... and it does not say 'waiting for the link' while the link is up"
else fail "says waiting while the link is up: $(cat "$T/ok.out")"; fi
P_OK=$(sed 's/.*listening on tcp:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/' "$T/ok.out")
check "the peer's listener relays to B's echo" "$XFER" send "tcp:127.0.0.1:$P_OK" 64K --expect echo

# --- the peer refuses ---------------------------------------------------------
serve busy sink "tcp:127.0.0.1:0"
BUSY=${SERVE_ADDR#tcp:}
radd busy busy --listen "peer:tcp://$BUSY" --connect "$ECHO"
if [ "$RADD_RC" -eq 1 ] && grep -Eq "^brokerctl: route add busy: the peer refused: tcp://$BUSY: .*[Aa]ddress already in use.* \(nothing was stored\)\$" "$T/busy.err"; then
	pass "address in use on the peer: exit 1, $(cat "$T/busy.err")"
else fail "address in use on the peer: exit $RADD_RC: $(cat "$T/busy.out" "$T/busy.err")"; fi
check "... busy is not listed" sh -c "! '$BROKERCTL' --runtime-dir '$T/B' route list | grep -q '^busy '"
radd scheme scheme --listen "peer:tcpx://127.0.0.1:1" --connect "$ECHO"
if [ "$RADD_RC" -eq 1 ] && grep -Eq "^brokerctl: route add scheme: the peer refused: tcpx://127\.0\.0\.1:1: no plugin serves scheme 'tcpx' \(loaded: [a-z, ]*\) \(nothing was stored\)\$" "$T/scheme.err"; then
	pass "unknown scheme on the peer: $(cat "$T/scheme.err")"
else fail "unknown scheme on the peer: exit $RADD_RC: $(cat "$T/scheme.out" "$T/scheme.err")"; fi
radd param param --listen "peer:tcp://127.0.0.1:0?mod=1" --connect "$ECHO"
if [ "$RADD_RC" -eq 1 ] && grep -Fxq "brokerctl: route add param: the peer refused: tcp://127.0.0.1:0?mod=1: unknown parameter 'mod' (tcp takes backlog, netns when listening) (nothing was stored)" "$T/param.err"; then
	pass "unknown parameter on the peer: $(cat "$T/param.err")"
else fail "unknown parameter on the peer: exit $RADD_RC: $(cat "$T/param.err")"; fi

# --- no answer in time ----------------------------------------------------------
kill -STOP "$(bpid A)"
radd slow slow --timeout 3 --listen "peer:tcp://127.0.0.1:0" --connect "$ECHO"
kill -CONT "$(bpid A)"
if [ "$RADD_RC" -eq 3 ] && grep -Fxq "brokerctl: route add slow: stored, but not listening yet: the peer did not answer within 2.0 s; its answer will show in the route's state (brokerctl route list shows its state)" "$T/slow.err"; then
	pass "no answer within the wait: exit 3, $(cat "$T/slow.err")"
else fail "no answer: exit $RADD_RC: $(cat "$T/slow.out" "$T/slow.err")"; fi
if wait_until 15 sh -c "'$BROKERCTL' --runtime-dir '$T/B' --json route list | jq -e '.[] | select(.name == \"slow\") | .state | startswith(\"listening on\")' >/dev/null"; then
	pass "once the peer runs again, its answer shows: $(state_of B slow)"
else fail "slow after SIGCONT: $(state_of B slow)"; fi

# --- no link configured at all --------------------------------------------------
bstart C
bctl C route add nolink --listen "peer:tcp://127.0.0.1:0" --connect "$ECHO" >"$T/nolink.out" 2>"$T/nolink.err"
rc=$?
if [ "$rc" -eq 1 ] && grep -Fxq "brokerctl: route add nolink: peer:tcp://127.0.0.1:0 is on the peer, but no link to a peer broker is configured (start brokerd with --link-connect URL, --link-listen URL or --link-stdio)" "$T/nolink.err"; then
	pass "no link configured: exit 1, $(cat "$T/nolink.err")"
else fail "no link configured: exit $rc: $(cat "$T/nolink.out" "$T/nolink.err")"; fi
bctl C route add nolink2 --listen "unix://$T/nl.sock" --connect "peer:$ECHO" >/dev/null 2>"$T/nolink2.err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "peer:$ECHO is on the peer, but no link to a peer broker is configured" "$T/nolink2.err"; then
	pass "no link configured, peer: connect: exit 1"
else fail "no link configured, peer: connect: exit $rc: $(cat "$T/nolink2.err")"; fi
if [ "$(bctl C route list)" = "no routes (add one with: brokerctl route add NAME --listen URL --connect URL)" ]; then
	pass "no link configured: nothing stored"
else fail "C routes: $(bctl C route list)"; fi
bstop C

# --- the link is down -------------------------------------------------------------
bstop A || fail "A did not stop"
wait_until 10 sh -c "! '$BROKERCTL' --runtime-dir '$T/B' link status | grep -q ' up '" || true
radd down down --listen "peer:tcp://127.0.0.1:0" --connect "$ECHO"
if [ "$RADD_RC" -eq 3 ] &&
	grep -Fxq "route down: peer:tcp://127.0.0.1:0 -> $ECHO (waiting for the link to the peer)" "$T/down.out" &&
	grep -Fxq "brokerctl: route add down: stored, but not listening yet: the link to the peer is down; the peer is asked when it comes up (brokerctl route list shows its state)" "$T/down.err"; then
	pass "link down: exit 3, $(cat "$T/down.err")"
else fail "link down: exit $RADD_RC: $(cat "$T/down.out" "$T/down.err")"; fi
radd downj downj --json --listen "peer:tcp://127.0.0.1:0" --connect "$ECHO"
if [ "$RADD_RC" -eq 3 ] && jq -e '.name == "downj" and (.waiting | startswith("the link to the peer is down"))' "$T/downj.out" >/dev/null; then
	pass "link down, --json: the route with 'waiting', exit 3"
else fail "link down --json: exit $RADD_RC: $(cat "$T/downj.out")"; fi
check "link down: the route is stored (listed)" listed B down
bstart A --link-listen "$LINK" --peer-allow-listen '*'
if wait_until 20 sh -c "'$BROKERCTL' --runtime-dir '$T/B' --json route list | jq -e '.[] | select(.name == \"down\") | .state | startswith(\"listening on\")' >/dev/null"; then
	pass "link back: the peer listens for 'down': $(state_of B down)"
else fail "down after the link is back: $(state_of B down)"; fi

# --- nothing refused came back after a restart -----------------------------------
bstop B
bstart B --link-connect "$LINK" --link-backoff-max 1
back=
for n in busy scheme param; do
	listed B "$n" && back="$back $n"
done
if [ -z "$back" ]; then pass "refused routes did not come back after a restart"
else fail "refused routes came back after a restart:$back"; fi
check "routes that were added are back after a restart" sh -c "'$BROKERCTL' --runtime-dir '$T/B' route list | grep -q '^down '"
bstop B
bstop A
for l in "$T"/*.log; do sanitizer_clean "$l" || fail "sanitizer report in $l"; done
finish
