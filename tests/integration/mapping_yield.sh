#!/bin/sh
# tests/integration/mapping_yield.sh - a watcher that reports whatever
# listens (procnet; here static_yield, a static_watch built with
# BROKER_WATCHER_YIELDS) yields a port that another watcher reports: no
# conflict, one row, the other watcher's target served.  G runs both
# watchers, H serves G's mappings.
#
#   both report port P (the yielding one second): G lists P once, from the
#     other watcher, exported; no conflict anywhere; H reaches that target;
#   the yielding one first, then the other watcher: the yielding mapping is
#     withdrawn (mapping.remove), the other exported, H switches target;
#   the other watcher's mapping goes: after a short grace the yielding one
#     takes the port again and H reaches its target.
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/mapping_lib.sh"
plan 13

BOUND=15
command -v jq >/dev/null 2>&1 || bail "jq not installed (scripts/bootstrap installs it)"
SY_SO="$top_builddir/tests/plugins/.libs/static_yield.so"
[ -e "$SY_SO" ] || bail "static_yield test plugin not built ($SY_SO; run make check)"
ln -s "$SY_SO" "$T/wplug/static_yield.so"
serve echo echo "tcp:127.0.0.1:0"
ECHO=${SERVE_ADDR#tcp:}
serve sink sink "tcp:127.0.0.1:0"
SINK=${SERVE_ADDR#tcp:}
P=$(free_port) || bail "no free port"
Q=$(free_port) || bail "no free port"
CID=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
YPORTS="$T/yield.json"
# yield_write PORT...: the yielding watcher reports tcp/0.0.0.0:PORT -> ECHO for each.
yield_write() {
	{
		printf '{'
		_sep=
		for _p in "$@"; do
			printf '%s"tcp/0.0.0.0:%s": {"description": "", "ports": [{"proto": "tcp", "host_ip": "0.0.0.0", "host_port": %s, "connect": ["%s"]}]}' \
				"$_sep" "$_p" "$_p" "$ECHO"
			_sep=", "
		done
		printf '}\n'
	} >"$YPORTS.tmp" && mv "$YPORTS.tmp" "$YPORTS"
}
# rows NAME PORT: how many entries broker NAME lists for host port PORT.
rows() { bctl "$1" --json mapping list | jq --argjson p "$2" '[.[] | select(.host_port == $p)] | length'; }

ports_reset
pe "$CID" tcp 0.0.0.0 "$P" "$SINK" "web"
ports_write
yield_write "$P" "$Q"
start_guest --watch "static_yield,file=$YPORTS"
start_host
wait_link_up H "$BOUND" || bail "the link did not come up"
"$BROKERCTL" --runtime-dir "$T/G" --json watch mapping. >"$T/g.events" 2>&1 &
record $!

# --- both report P: the other watcher's wins, without a conflict ------------------
check "H serves $P, reaching the other watcher's target (the sink)" within "$BOUND" sink_ok "tcp:127.0.0.1:$P"
if [ "$(rows G "$P")" = 1 ] && bctl G --json mapping list |
	jq -e --argjson p "$P" --arg id "$CID" '[.[] | select(.host_port == $p)][0] | .source == "static_watch" and .owner == $id and .state == "exported"' >/dev/null; then
	pass "G lists port $P once: static_watch's, exported"
else fail "G's rows for $P: $(bctl G --json mapping list | jq -c --argjson p "$P" '[.[] | select(.host_port == $p) | {source, owner, state}]')"; fi
if ! bctl G mapping list | grep -q "conflict"; then pass "no conflict in G's mapping list"
else fail "G lists a conflict: $(bctl G mapping list)"; fi
check "G's log says the yielding report of $P is ignored" wait_log G "static_yield/tcp/0\\.0\\.0\\.0:$P tcp port $P: ignored while static_watch/0123456789ab reports it" 5

# --- the yielding watcher first: it gives the port up when the other comes ----------
check "H serves $Q from the yielding watcher (the echo)" within "$BOUND" echo_ok "tcp:127.0.0.1:$Q"
pe second tcp 0.0.0.0 "$Q" "$SINK" "web2"
ports_reload
check "the other watcher reports $Q: H now reaches its target (the sink)" within "$BOUND" sink_ok "tcp:127.0.0.1:$Q"
if [ "$(rows G "$Q")" = 1 ]; then pass "G lists $Q once"
else fail "G lists $Q $(rows G "$Q") times"; fi
check "G published mapping.remove for the yielding mapping of $Q" within "$BOUND" \
	jq -e -s --arg o "tcp/0.0.0.0:$Q" 'any(.[]; .kind == "mapping.remove" and .mapping.owner == $o and .mapping.source == "static_yield")' "$T/g.events"
if ! jq -e -s 'any(.[]; .kind == "mapping.conflict")' "$T/g.events" >/dev/null; then pass "no mapping.conflict event on G"
else fail "G published a conflict: $(jq -c -s '[.[] | select(.kind == "mapping.conflict") | .text]' "$T/g.events")"; fi

# --- the other watcher's mapping goes: the yielding one takes the port again ------
pe_drop second
ports_reload
check "after a grace, H reaches the yielding watcher's target for $Q again" within "$BOUND" echo_ok "tcp:127.0.0.1:$Q"
if bctl G --json mapping list | jq -e --argjson p "$Q" '[.[] | select(.host_port == $p)] | length == 1 and .[0].source == "static_yield" and .[0].state == "exported"' >/dev/null; then
	pass "G lists $Q once: static_yield's, exported"
else fail "G's rows for $Q: $(bctl G --json mapping list | jq -c --argjson p "$Q" '[.[] | select(.host_port == $p) | {source, owner, state}]')"; fi
check "G published mapping.add for the yielding mapping of $Q when it took the port back" \
	jq -e -s --arg o "tcp/0.0.0.0:$Q" '[.[] | select(.mapping.owner == $o) | .kind] | .[-1] == "mapping.add"' "$T/g.events"

bstop H
bstop G
check "G exits cleanly" [ "$STOP_RC" = 0 ]
for l in "$T"/*.log; do sanitizer_clean "$l" || fail "sanitizer report in $l"; done
finish
