#!/bin/sh
# tests/integration/watch_events.sh - every event kind brokerctl(1) lists is
# published, as one concise line (text) or one object (--json):
#
#   route.add, route.remove         a route added and removed on the host H
#   mapping.add, mapping.conflict   the guest G's watcher reports two owners
#                                   of one port
#   mapping.state                   on G: the conflict settles when the first
#                                   owner goes; on H: the link goes down (the
#                                   mapping waits) and comes back (listening)
#   mapping.remove                  the first owner goes (its state "removed",
#                                   not what it did before)
#   link.down, link.up              G is stopped and started again
#
# Lines carry the log's timestamp format and say each thing once.  POSIX sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/mapping_lib.sh"
plan 20

BOUND=15
serve echo echo "tcp:127.0.0.1:0"
ECHO=${SERVE_ADDR#tcp:}
serve sink sink "tcp:127.0.0.1:0"
SINK=${SERVE_ADDR#tcp:}
P=$(free_port) || bail "no free port"

ports_reset
pe first tcp 0.0.0.0 "$P" "$ECHO" "web A"
ports_write

# wstart NAME FILE ARGS...: `brokerctl watch ARGS` on broker NAME into FILE.
wstart() {
	_b=$1; _f=$2; shift 2
	"$BROKERCTL" --runtime-dir "$T/$_b" watch "$@" >"$T/$_f" 2>"$T/$_f.err" &
	record $!
}
# wsync NAME FILE: a subscriber attaches a moment after it starts: add and
# remove routes on NAME until FILE shows a route.add, so later events are seen.
WS=0
wsync() {
	_i=0
	while [ "$_i" -lt 50 ]; do
		WS=$((WS + 1))
		bctl "$1" route add "sync$WS" --listen "unix://$T/sync$WS.sock" --connect "unix://$T/none.sock" >/dev/null 2>&1
		bctl "$1" route rm "sync$WS" >/dev/null 2>&1
		grep -q "route.add" "$T/$2" 2>/dev/null && return 0
		sleep 0.2
		_i=$((_i + 1))
	done
	return 1
}
# has FILE REGEX: FILE (a watch output) has a line matching REGEX.
has() { grep -Eq -- "$2" "$T/$1"; }
# jhas FILE JQ-EXPR [args]: some JSON line of FILE satisfies JQ-EXPR.
jhas() { _f=$1; _e=$2; shift 2; jq -e -s "$@" "any(.[]; $_e)" "$T/$_f" >/dev/null 2>&1; }
command -v jq >/dev/null 2>&1 || bail "jq not installed (apt-get install jq)"
STAMP='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

start_guest
json_probe G
start_host
wait_link_up H "$BOUND" || bail "the link did not come up"
within "$BOUND" tcp_listening "127.0.0.1:$P" || bail "host does not serve $P"

wstart G g.txt
wstart G g.json --json
wstart H h.txt
wstart H h.json --json
for f in g.txt g.json; do wsync G "$f" || bail "watch on G ($f) never saw its own route.add"; done
for f in h.txt h.json; do wsync H "$f" || bail "watch on H ($f) never saw its own route.add"; done

# --- route.add / route.remove ---------------------------------------------------
if has h.txt "^$STAMP route\.add route sync[0-9]+: unix://$T/sync[0-9]+\.sock -> unix://$T/none\.sock\$"; then
	pass "route.add: one line, log timestamp: $(grep -m1 route.add "$T/h.txt")"
else fail "route.add line: $(grep -m1 route "$T/h.txt")"; fi
if has h.txt "^$STAMP route\.remove route sync[0-9]+ removed\$"; then pass "route.remove: $(grep -m1 route.remove "$T/h.txt")"
else fail "route.remove line: $(grep route "$T/h.txt" | head -3)"; fi

# --- mapping.add / mapping.conflict / mapping.state / mapping.remove on G ------
pe second tcp 0.0.0.0 "$P" "$ECHO" "web B"
ports_reload
check "mapping.conflict published for the second owner" within "$BOUND" \
	jhas g.json '.kind == "mapping.conflict" and .mapping.owner == "second" and (.mapping.state | startswith("conflict:"))'
pe_drop first
ports_reload
check "mapping.remove published for the first owner, state 'removed'" within "$BOUND" \
	jhas g.json '.kind == "mapping.remove" and .mapping.owner == "first" and .mapping.state == "removed"'
check "mapping.state published when the conflict settles: second is exported" within "$BOUND" \
	jhas g.json '.kind == "mapping.state" and .mapping.owner == "second" and .mapping.state == "exported"'
if has g.txt "^$STAMP mapping\.remove local static_watch/first web A: tcp 0\.0\.0\.0:$P -> $ECHO: removed\$"; then
	pass "mapping.remove text: one concise line: $(grep -m1 mapping.remove "$T/g.txt")"
else fail "mapping.remove text: $(grep mapping "$T/g.txt" | head -4)"; fi
# The host serves second now: a new owner there, so mapping.add on H.
check "mapping.add on the host for second" within "$BOUND" \
	jhas h.json '.kind == "mapping.add" and .mapping.owner == "second" and .mapping.origin == "peer"'
if has h.txt "^$STAMP mapping\.add peer static_watch/second web B: tcp 0\.0\.0\.0:$P -> $ECHO: listening on tcp://127\.0\.0\.1:$P\$"; then
	pass "mapping.add text on the host: $(grep -m1 'mapping.add.*second' "$T/h.txt")"
else fail "mapping.add text on the host: $(grep mapping "$T/h.txt" | head -4)"; fi
# Every line says each thing once: the owner appears once per line.
if awk '/mapping\..*second/ { n = gsub(/second/, "&"); if (n != 1) bad = 1 } END { exit bad }' "$T/h.txt" "$T/g.txt"; then
	pass "each mapping line names its owner once"
else fail "an event line repeats itself: $(grep mapping "$T/h.txt" | head -2)"; fi

# --- a new target for the same port: one report removes and re-adds the key ----
# (The host used to apply the delta's upsert before its removal of the same
# key, and dropped the mapping.)
pe_drop second
pe second tcp 0.0.0.0 "$P" "$SINK" "web B"
ports_reload
check "new target: the host publishes mapping.add for second -> the sink" within "$BOUND" \
	jhas h.json '.kind == "mapping.add" and .mapping.owner == "second" and .mapping.connect == [$c]' --arg c "$SINK"
check "new target: the host still serves $P, now reaching the sink" within "$BOUND" sink_ok "tcp:127.0.0.1:$P"
jcheck "new target: the host lists second once, listening, connecting to the sink" H \
	'[.[] | select(.host_port == $p)] | length == 1 and .[0].connect == [$c] and (.[0].state | startswith("listening"))' \
	--argjson p "$P" --arg c "$SINK"

# --- link.down and mapping.state on the host ------------------------------------
bstop G || fail "guest did not stop"
check "link.down published on the host" within "$BOUND" \
	jhas h.json '.kind == "link.down" and (.text | contains("down"))'
if has h.txt "^$STAMP link\.down link unix://$T/link\.sock down: peer [^ ]+ \([^)]*\): .+"; then
	pass "link.down text: $(grep -m1 link.down "$T/h.txt")"
else fail "link.down text: $(grep link "$T/h.txt" | head -3)"; fi
check "mapping.state published on the host: second waits for the link" within "$BOUND" \
	jhas h.json '.kind == "mapping.state" and .mapping.owner == "second" and (.mapping.state | startswith("waiting for the link"))'
start_guest
check "link.up published on the host after the guest is back" within "$BOUND" \
	jhas h.json '.kind == "link.up"'
check "mapping.state published on the host: second listens again" within "$BOUND" \
	jhas h.json '.kind == "mapping.state" and .mapping.owner == "second" and (.mapping.state | startswith("listening on"))'
# link.up comes after link.down (the up before the subscription is not counted).
if jq -r -s '[.[] | select(.kind | startswith("link.")) | .kind] | join(" ")' "$T/h.json" | grep -q "^link.down link.up"; then
	pass "host saw link.down then link.up"
else fail "host link events: $(jq -r -s '[.[] | select(.kind | startswith("link.")) | .kind] | join(" ")' "$T/h.json")"; fi

# --- the JSON time is the log's format ------------------------------------------
if jq -e -s 'all(.[]; .time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))' "$T/h.json" >/dev/null &&
	jq -e -s 'all(.[]; (.time_ms / 1000 | floor | todate) == (.time | sub("\\.[0-9]{3}Z$"; "Z")))' "$T/h.json" >/dev/null; then
	pass "--json time is UTC ISO 8601 with milliseconds, as in the logs, and matches time_ms"
else fail "--json time: $(jq -c -s '[.[] | {time, time_ms}] | .[0:2]' "$T/h.json")"; fi
if grep -Eq "^$STAMP (info|debug) " "$(blog H)"; then pass "the log uses the same timestamp format"
else fail "log timestamp: $(head -n 1 "$(blog H)")"; fi

bstop H
bstop G
for b in G H; do
	for l in "$T/$b".*.log; do sanitizer_clean "$l" || fail "sanitizer report in $l"; done
done
finish
