#!/bin/sh
# tests/integration/mapping_restart.sh - mappings across restarts: a guest
# broker G (static_watch on a JSON file, --link-listen) and a host broker H
# (--link-connect) as in mapping_core.sh.  Helpers in mapping_lib.sh.
#
#  (a) restart H while G keeps running (and G's set changes meanwhile): H
#      starts dialing a socket path that does not exist yet, so the link is
#      down; the listeners of H's last sync are back from sqlite before the
#      link (ss shows them, a client is refused or closed, never served), the
#      UDP one too.  Then the path appears (a symlink to G's socket): the link
#      comes up, the set is reconciled (the owner G dropped meanwhile is
#      closed, the new one opens) and every listener forwards again.
#  (b) stop G, change the static file while it is down (drop an owner, add
#      two, retarget one), start G again: H ends with exactly the new set (no
#      stale listener, every new one present, the retargeted one reaches its
#      new target), and H's listeners stayed up while G was down.
#  (c) kill -9 G: H's listeners stay (refusing); change the file; restart G:
#      H reconciles to exactly the new set.
# POSIX sh (dash).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/mapping_lib.sh"
plan 37

BOUND=10
[ -x "$UDPECHO" ] || bail "udpecho not built ($UDPECHO): include tests/tools/udpecho.mk"

serve echo echo "tcp:127.0.0.1:0"
ECHO=${SERVE_ADDR#tcp:}
serve sink sink "tcp:127.0.0.1:0"
SINK=${SERVE_ADDR#tcp:}
rm -f "$T/uecho.ready"
"$UDPECHO" serve 127.0.0.1:0 --ready "$T/uecho.ready" --lifetime 300 >"$T/uecho.log" 2>&1 &
record $!
wait_until 10 test -s "$T/uecho.ready" || bail "udpecho server did not start"
UECHO=$(cat "$T/uecho.ready")

P_A=$(free_port); P_B=$(free_port); P_C=$(free_port); P_D=$(free_port)
P_E=$(free_port); P_F=$(free_port)
P_U=$("$UDPECHO" free-port)
ALL_TCP="A:$P_A B:$P_B C:$P_C D:$P_D E:$P_E F:$P_F"

# served: the owners whose TCP port H listens on (127.0.0.1), plus "U" when
# the UDP port is bound; sorted, space-separated.
served() {
	_s=
	for _op in $ALL_TCP; do
		tcp_listening "127.0.0.1:${_op#*:}" && _s="$_s ${_op%%:*}"
	done
	udp_bound "127.0.0.1:$P_U" && _s="$_s U"
	echo "$_s" | tr ' ' '\n' | grep -v '^$' | sort | tr '\n' ' ' | sed 's/ $//'
}
served_is() { [ "$(served)" = "$1" ]; }
# host_owners: owners of H's peer mappings per `mapping list --json`, sorted.
host_owners() {
	mjson H && jq -r '[.[] | select(.origin == "peer") | .owner] | sort | join(" ")' "$T/H.map.json"
}
host_owners_are() { [ "$(host_owners)" = "$1" ]; }
# expect_set LABEL "A C U": H serves exactly that set (ss), and lists exactly
# it (JSON), within BOUND seconds.
expect_set() {
	balive H || { wait "$PID_H" 2>/dev/null; bail "$1: the host broker died (exit status $?): $(tail -n 2 "$(blog H)" | tr '\n' ' ')"; }
	if within "$BOUND" served_is "$2"; then
		pass "$1: host serves exactly {$2}"
	else
		fail "$1: host serves {$(served)}, want {$2}"
	fi
	if within "$BOUND" host_owners_are "$2"; then
		pass "$1: host mapping list has exactly {$2}"
	else
		fail "$1: host mapping list has {$(host_owners)}, want {$2}"
	fi
	jwait "$BOUND" "$1: every host mapping is listening" H \
		'all(.[] | select(.origin == "peer"); (.state | startswith("listening")) and (.listen | length > 0))'
}
# works OWNER...: each owner's port forwards (A-F echo, except those given as
# sink in SINKS; U answers udp).
SINKS=
works() {
	_ok=0
	for _o in "$@"; do
		if [ "$_o" = U ]; then
			"$UDPECHO" check "127.0.0.1:$P_U" 0 1200 60000 --timeout 5 >"$T/w.out" 2>&1 || { _ok=1; echo "U: $(cat "$T/w.out")"; }
			continue
		fi
		_p=$(echo "$ALL_TCP" | tr ' ' '\n' | sed -n "s/^$_o://p")
		case " $SINKS " in
		*" $_o "*) sink_ok "tcp:127.0.0.1:$_p" 64K >"$T/w.out" 2>&1 || { _ok=1; echo "$_o (sink): $(cat "$T/w.out")"; } ;;
		*) echo_ok "tcp:127.0.0.1:$_p" 64K >"$T/w.out" 2>&1 || { _ok=1; echo "$_o (echo): $(cat "$T/w.out")"; } ;;
		esac
	done
	return $_ok
}
# all_refuse OWNER...: each TCP owner's port still listens but serves no data
# (link down): the client is closed without a byte.
all_refuse() {
	for _o in "$@"; do
		_p=$(echo "$ALL_TCP" | tr ' ' '\n' | sed -n "s/^$_o://p")
		closed_without_data "tcp:127.0.0.1:$_p" || { echo "$_o: $(cat "$T/rc.out")"; return 1; }
	done
}

# --- initial set: A, B (tcp echo), U (udp echo) --------------------------------
ports_reset
pe A tcp 0.0.0.0 "$P_A" "$ECHO"
pe B tcp 0.0.0.0 "$P_B" "$ECHO"
pe U udp 0.0.0.0 "$P_U" "$UECHO"
ports_write
start_guest
start_host
json_probe H
wait_link_up H 15 || bail "link between the brokers did not come up"
expect_set "start" "A B U"
check "start: A, B and U forward" works A B U

# --- (a) host restart ------------------------------------------------------------
bstop H && [ "$STOP_RC" = 0 ] && pass "(a) host broker exits 0 on SIGTERM" || fail "(a) host broker exit: $STOP_RC"
check "(a) host down: its listeners are closed" served_is ""
# While H is down, G drops B and gains C.
pe_drop B
pe C tcp 0.0.0.0 "$P_C" "$ECHO"
ports_reload
LATE="$T/late.sock"
bstart H --link-connect "unix://$LATE" $MAP_KA $MAP_DIAL
if served_is "A B U"; then
	pass "(a) restarted host, link down: A, B and U listen again (restored from sqlite) before the link is up"
else
	fail "(a) restarted host, link down: serves {$(served)}, want {A B U} from sqlite"
fi
check "(a) ... the link is really down" sh -c "! '$BROKERCTL' --runtime-dir '$T/H' link status --json | grep -q '\"up\"'"
check "(a) host log: restored 3 mappings" log_has H "restored 3 mapping\\(s\\)"
check "(a) link down: A and B listen, and close their clients without serving them" all_refuse A B
jcheck "(a) link down: the host lists A, B and U from sqlite" H \
	'[.[] | select(.origin == "peer") | .owner] | sort == ["A", "B", "U"]'
ln -s "$T/link.sock" "$LATE"
wait_link_up H 15 || bail "(a) link did not come up once $LATE existed"
expect_set "(a) link up" "A C U"
check "(a) link up: A, C and U forward" within "$BOUND" works A C U
check "(a) B's port is closed" tcp_not_listening "127.0.0.1:$P_B"

# --- (b) guest restart with changes while it is down -----------------------------
bstop G && [ "$STOP_RC" = 0 ] && pass "(b) guest broker exits 0 on SIGTERM" || fail "(b) guest broker exit: $STOP_RC"
# Every look for 4 s (past the 3 s link timeout), not one sample at once.
check "(b) guest down: the host keeps listening for A, C and U (every look for 4 s)" stays 4 served_is "A C U"
check "(b) guest down: A and C listen and close their clients without data" all_refuse A C
pe_drop A
pe D tcp 0.0.0.0 "$P_D" "$ECHO"
pe E tcp 0.0.0.0 "$P_E" "$ECHO"
pe_drop C
pe C tcp 0.0.0.0 "$P_C" "$SINK"
ports_write
rm -f "$T/link.sock"
start_guest
wait_link_up H 15 || bail "(b) link did not come back after the guest restart"
expect_set "(b) guest restarted" "C D E U"
SINKS="C"
check "(b) C reaches its new target (sink); D, E echo; U answers" within "$BOUND" works C D E U
jcheck "(b) host: C's connect is the sink" H \
	'any(.[]; .owner == "C" and .connect == [$s])' --arg s "$SINK"

# --- (c) kill -9 the guest ----------------------------------------------------------
bkill9 G
check "(c) guest killed: the host keeps C, D, E and U (every look for 4 s)" stays 4 served_is "C D E U"
check "(c) guest killed: C, D and E listen and close their clients without data" within "$BOUND" all_refuse C D E
pe_drop D
pe F tcp 0.0.0.0 "$P_F" "$ECHO"
ports_write
rm -f "$T/link.sock"
start_guest
wait_link_up H 15 || bail "(c) link did not come back after the guest restart"
expect_set "(c) guest restarted after kill -9" "C E F U"
check "(c) C (sink), E, F and U forward" within "$BOUND" works C E F U
check "(c) D's port is closed" tcp_not_listening "127.0.0.1:$P_D"

check "guest broker still running" balive G
check "host broker still running" balive H
check "no sanitizer report from the guest broker" sanitizer_clean "$(blog G)"
check "no sanitizer report from the host broker" sanitizer_clean "$(blog H)"
bstop H && [ "$STOP_RC" = 0 ] && pass "host broker exits 0 on SIGTERM" || fail "host broker exit: $STOP_RC"
bstop G && [ "$STOP_RC" = 0 ] && pass "guest broker exits 0 on SIGTERM" || fail "guest broker exit: $STOP_RC"
finish
