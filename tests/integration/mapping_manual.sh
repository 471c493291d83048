#!/bin/sh
# tests/integration/mapping_manual.sh - which way `mapping add` goes, said
# and held: a mapping added on a broker is exported, so its PEER listens on
# the port and forwards to the connect address on the side where it was
# added.  G (guest) runs the static_watch watcher and accepts the link; H
# (host) dials it.
#
#   mapping add on H: the output names the peer as the listener and the
#     address as "here"; G listens, H does not; traffic through G's port
#     reaches H's echo server;
#   a connect address that H itself serves for G (G's mapping) would loop:
#     refused with the reason;
#   no link configured (broker C): refused;
#   the link is down: added, and the output says nothing listens yet;
#   mapping list: short container ids (12 hex) in the table, full ones in
#     --json, connect addresses beyond the first counted, rows of sane width.
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/mapping_lib.sh"
plan 14

BOUND=15
command -v jq >/dev/null 2>&1 || bail "jq not installed (scripts/bootstrap installs it)"
serve echo echo "tcp:127.0.0.1:0"
ECHO=${SERVE_ADDR#tcp:}
P_MAN=$(free_port) || bail "no free port"
P_G=$(free_port) || bail "no free port"
P_LOOP=$(free_port) || bail "no free port"
P_DOWN=$(free_port) || bail "no free port"
CID=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

ports_reset
pe "$CID" tcp 0.0.0.0 "$P_G" "$ECHO" "web"
ports_write
# Two connect addresses for the container's port (as docker reports them).
sed -i "s|\"connect\": \\[\"$ECHO\"\\]|\"connect\": [\"$ECHO\", \"172.17.0.2:80\"]|" "$PORTS"

start_guest
start_host
wait_link_up H "$BOUND" || bail "the link did not come up"
within "$BOUND" tcp_listening "127.0.0.1:$P_G" || bail "H does not serve G's port $P_G"
GID=$(bctl H --json link status | jq -r '.[] | select(.state == "up") | .peer_id' | head -n 1)

# --- mapping add on H: G listens, H's address is connected to ---------------------
bctl H mapping add "$P_MAN" --connect "$ECHO" >"$T/add.out" 2>"$T/add.err"
rc=$?
if [ "$rc" -eq 0 ] && grep -Fxq "mapping manual/tcp-$P_MAN: tcp port $P_MAN on the peer ($GID) -> $ECHO here (exported)" "$T/add.out"; then
	pass "mapping add on H says the peer listens and H connects: $(cat "$T/add.out")"
else fail "mapping add on H: exit $rc: $(cat "$T/add.out" "$T/add.err")"; fi
check "G (the peer) listens on $P_MAN" within "$BOUND" tcp_listening "127.0.0.1:$P_MAN"
# Both brokers run on this machine: tell whose listener it is by its process.
owners=$(ss -Hltnp "sport = :$P_MAN" 2>/dev/null | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' ')
if [ "$owners" = "pid=$(bpid G) " ]; then pass "the one listener on $P_MAN is G's (H does not listen)"
else fail "listeners on $P_MAN: '$owners' (G is $(bpid G), H is $(bpid H))"; fi
check "a client of G's port $P_MAN reaches H's echo server" within "$BOUND" echo_ok "tcp:127.0.0.1:$P_MAN"
bctl H --json mapping list >"$T/h.json"
if jq -e --argjson p "$P_MAN" 'any(.[]; .owner == "tcp-\($p)" and .origin == "local" and .state == "exported")' "$T/h.json" >/dev/null &&
	bctl G --json mapping list | jq -e --argjson p "$P_MAN" 'any(.[]; .owner == "tcp-\($p)" and .origin == "peer" and (.state | startswith("listening on")))' >/dev/null; then
	pass "H lists it as local and exported; G as the peer's, listening"
else fail "listings: H $(cat "$T/h.json" | tr -d '\n' | cut -c1-300)"; fi

# --- a loop: H's connect address is G's own mapping served on H --------------------
bctl H mapping add "$P_LOOP" --connect "127.0.0.1:$P_G" >"$T/loop.out" 2>"$T/loop.err"
rc=$?
if [ "$rc" -eq 1 ] && grep -Fxq "brokerctl: mapping add $P_LOOP: 127.0.0.1:$P_G is where this broker serves the peer's mapping static_watch/0123456789ab: the peer would forward port $P_LOOP back to itself (run mapping add on the side where the service runs, with its address there)" "$T/loop.err"; then
	pass "a mapping that would forward back to the peer is refused: $(cat "$T/loop.err")"
else fail "loop: exit $rc: $(cat "$T/loop.out" "$T/loop.err")"; fi
if ! bctl H --json mapping list | jq -e --argjson p "$P_LOOP" 'any(.[]; .host_port == $p)' >/dev/null; then
	pass "... and nothing was added"
else fail "the refused loop mapping is listed"; fi

# --- short ids, full ids in --json, counted connect addresses ------------------------
bctl H mapping list >"$T/list.out"
if grep -q "0123456789ab (web)" "$T/list.out" && ! grep -q "$CID" "$T/list.out"; then
	pass "mapping list shows the container id cut to 12 hex"
else fail "mapping list: $(cat "$T/list.out")"; fi
if grep -q " $ECHO +1 " "$T/list.out"; then pass "CONNECT shows the first address and how many more"
else fail "CONNECT column: $(cat "$T/list.out")"; fi
w=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$T/list.out")
if [ "$w" -le 160 ]; then pass "mapping list rows are at most 160 columns ($w)"
else fail "mapping list rows run to $w columns: $(cat "$T/list.out")"; fi
if bctl H --json mapping list | jq -e --arg id "$CID" 'any(.[]; .owner == $id and (.connect | length) == 2)' >/dev/null; then
	pass "--json keeps the full id and every connect address"
else fail "--json: $(bctl H --json mapping list | tr -d '\n' | cut -c1-300)"; fi

# --- no link configured ---------------------------------------------------------------
bstart C
bctl C mapping add 18999 --connect "$ECHO" >"$T/c.out" 2>"$T/c.err"
rc=$?
if [ "$rc" -eq 1 ] && grep -Fxq "brokerctl: mapping add 18999: a mapping is served by the peer broker (it listens on port 18999 and forwards here), but no link to a peer broker is configured (start brokerd with --link-connect URL, --link-listen URL or --link-stdio)" "$T/c.err"; then
	pass "no link configured: refused, saying why"
else fail "no link configured: exit $rc: $(cat "$T/c.out" "$T/c.err")"; fi
bstop C

# --- the link is down -----------------------------------------------------------------
bstop G || fail "G did not stop"
wait_until 10 sh -c "! '$BROKERCTL' --runtime-dir '$T/H' link status | grep -q ' up '" || true
bctl H mapping add "$P_DOWN" --connect "$ECHO" >"$T/down.out" 2>"$T/down.err"
rc=$?
if [ "$rc" -eq 0 ] && grep -Fxq "mapping manual/tcp-$P_DOWN: tcp port $P_DOWN on the peer -> $ECHO here (exported; no link to the peer is up: it listens once one is)" "$T/down.out"; then
	pass "link down: added, saying nothing listens yet: $(cat "$T/down.out")"
else fail "link down: exit $rc: $(cat "$T/down.out" "$T/down.err")"; fi
start_guest
check "link back: G listens on $P_DOWN" within "$BOUND" tcp_listening "127.0.0.1:$P_DOWN"

bstop H
bstop G
for l in "$T"/*.log; do sanitizer_clean "$l" || fail "sanitizer report in $l"; done
finish
