#!/bin/sh
# tests/integration/link_policy.sh - what a peer may do on this broker
# (DESIGN.md "Trust between brokers", brokerd(8) SECURITY), with real
# brokers: a host H accepts links on a unix socket, a guest G dials it and
# plays the attacker with ordinary routes; tests/tools/linkpeer speaks the
# protocol by hand where a broker would not.
#
#  (1) exec through the link: G's route --connect 'peer:exec:/bin/sh -c ...'
#      creates no file on H, with H's default policy, with
#      --peer-allow-connect '*' and with 'exec:*'; OPEN_ERR text in G's log,
#      the refusal in H's log, counters on both sides, the link stays up.
#      Only a pattern naming the command exactly runs it.
#  (2) H's control socket through the link: brokerctl on G's listener
#      reaches nothing, also by "..", by a symlink and with '*' allowed.
#  (3) listeners G asks H for: no 0.0.0.0 listener, nothing on port 23, no
#      socket in H's state dir, no abstract socket, by default and with
#      patterns allowing them; --peer-max-routes caps them; a loopback one
#      that the pattern allows works, by route id; H lists it as
#      OWNER/NAME, `route rm` closes it for good, and it closes when G's
#      link goes.  --mapping-bind as-given does open 0.0.0.0 (the check
#      can see one).
#  (4) allowed automatically: the guest side of a mapping the broker
#      reported; a --link-stdio child trusts its parent (not for exec:),
#      the parent does not trust the child.
#  (5) README.md's two-broker flow with the flags it now shows: the host's
#      route to the guest's socket and its route listening on the guest.
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 69
[ -x "$LINKPEER" ] || bail "test helper not built ($LINKPEER; run make check)"
command -v ss >/dev/null 2>&1 || bail "ss (iproute2) not installed (scripts/bootstrap installs it)"
[ -e "$top_builddir/plugins/exec/.libs/exec.so" ] || bail "exec plugin not built"

serve echo echo "unix:$T/echo.sock"
mkdir -p -m 700 "$T/H" "$T/Hs" "$T/Hx" "$T/fake"
ln -s "$T/H" "$T/hl"
LINKU="unix://$T/link.sock"
KA="--link-keepalive 1 --link-timeout 5"

# H: host, accepts G's link; runtime $T/H, state $T/Hs.
startH() { bstart H --link-listen "$LINKU" --state-dir "$T/Hs" $KA "$@"; }
startG() { bstart G --link-connect "$LINKU" $KA --link-backoff-max 1 "$@"; }
restartH() { bstop H; startH "$@"; wait_link_up G 15 connect || bail "G did not relink to H: $(link_field G connect last_error)"; }

log_count() { grep -Ec -- "$2" "$(blog "$1")"; }
last_log() { grep -E -- "$2" "$(blog "$1")" | tail -n 1 | cut -d' ' -f2- | cut -c1-240; }
# counter NAME ROLE FIELD: a link status number (0 when absent).
counter() { _v=$(link_field "$1" "$2" "$3"); echo "${_v:-0}"; }
# h_listens PORT: broker H holds a listening TCP socket on PORT (any address).
h_listens() { ss -Hltnp 2>/dev/null | awk -v p=":$1" '$4 ~ p"$"' | grep -q "pid=$PID_H,"; }
# listening_on ADDR:PORT: something listens on exactly that address.
listening_on() { ss -Hltn 2>/dev/null | awk '{print $4}' | grep -qx -- "$1"; }
# g_state ROUTE: G's route list line for ROUTE.
g_state() { route_line G "$1" | tr -s ' '; }
# echo_1m ADDR OUT: 1 MiB echoed whole through ADDR (xfer's output in OUT names the byte count).
echo_1m() { "$XFER" send "$1" 1M --expect echo --io-timeout 10 >"$2" 2>&1 && grep -q "sent 1048576 " "$2"; }
# poke PORT: one client connection to 127.0.0.1:PORT that sends a little.
poke() { "$XFER" send "tcp:127.0.0.1:$1" 16 --io-timeout 5 --timeout 10 >/dev/null 2>&1; }

startH
startG
wait_link_up G 15 connect || bail "G's link to H not up: $(link_field G connect last_error)"
GID=$(link_field G connect peer_id)
HGID=$(link_field H accepted peer_id)
pass "H and G linked over $LINKU (G is '$HGID' to H)"

# ---- (1) exec through the link ----------------------------------------------
P1=$(free_port)
broute G pwn "tcp://127.0.0.1:$P1" "peer:exec:/bin/sh -c 'id > $T/pwned'"
for pol in default star execstar; do
	case $pol in
	star) restartH --peer-allow-connect '*' ;;
	execstar) restartH --peer-allow-connect 'exec:*' --peer-allow-connect 'exec:/bin/sh*' ;;
	esac
	n0=$(log_count H "refused the peer's OPEN")
	g0=$(log_count G "the peer refused the stream")
	poke "$P1"
	wait_until 5 test -e "$T/pwned"
	if [ -e "$T/pwned" ]; then fail "(1) $pol: H ran the guest's command: $(cat "$T/pwned")"; rm -f "$T/pwned"
	else pass "(1) $pol policy: no file from the guest's exec: target"; fi
	if wait_until 5 test "$(log_count H "refused the peer's OPEN.*wildcards never match exec:")" -gt "$n0"; then
		pass "(1) $pol: H logs '$(last_log H "refused the peer's OPEN")'"
	else fail "(1) $pol: H did not log the refusal: $(last_log H "OPEN|exec")"; fi
	if wait_until 5 test "$(log_count G "the peer refused the stream: exec:.*exactly")" -gt "$g0"; then
		pass "(1) $pol: G logs the OPEN_ERR text: '$(last_log G "the peer refused the stream")'"
	else fail "(1) $pol: G did not log the peer's reason: $(last_log G "route pwn")"; fi
	[ "$(counter H accepted opens_refused)" -ge 1 ] && [ "$(counter G connect refused_by_peer)" -ge 1 ] &&
		pass "(1) $pol: counted: H opens_refused=$(counter H accepted opens_refused), G refused_by_peer=$(counter G connect refused_by_peer)" ||
		fail "(1) $pol: counters: H opens_refused=$(counter H accepted opens_refused), G refused_by_peer=$(counter G connect refused_by_peer)"
	link_up G connect && pass "(1) $pol: the link stays up after the refusal" || fail "(1) $pol: the link went down"
done
restartH --peer-allow-connect "exec:/bin/sh -c 'id > $T/pwned'"
poke "$P1"
if wait_until 10 test -s "$T/pwned"; then pass "(1) a pattern naming the command exactly lets it run: $(cut -c1-40 "$T/pwned")"
else fail "(1) the exactly named command did not run: $(last_log H "pwn|exec")"; fi
rm -f "$T/pwned"

# ---- (2) H's control socket through the link --------------------------------
restartH --peer-allow-connect '*' --peer-allow-connect "unix://$T/*"
i=0
for via in "$T/H/ctl.sock" "$T/Hx/../H/ctl.sock" "$T/hl/ctl.sock" "$T/H/events.sock" "$T/Hs/../H/./ctl.sock"; do
	i=$((i + 1))
	rm -rf "$T/fake$i"
	mkdir -p -m 700 "$T/fake$i"
	broute G "steal$i" "unix://$T/fake$i/ctl.sock" "peer:unix://$via"
	n0=$(log_count H "runtime directory $T/H")
	if "$BROKERCTL" --runtime-dir "$T/fake$i" status >"$T/steal.out" 2>&1; then
		fail "(2) $via: brokerctl through G's listener answered: $(head -n 3 "$T/steal.out" | tr '\n' ' ')"
	elif grep -q "$T/H" "$T/steal.out"; then
		fail "(2) $via: brokerctl saw H: $(tr '\n' ' ' <"$T/steal.out")"
	else pass "(2) $via: control socket unreachable through the link ($(head -n 1 "$T/steal.out" | cut -c1-80))"; fi
	if wait_until 5 test "$(log_count H "runtime directory $T/H")" -gt "$n0"; then
		pass "(2) $via: H says why: '$(last_log H "runtime directory $T/H" | sed 's/.*refused: //')'"
	else fail "(2) $via: no refusal naming the runtime directory in H's log"; fi
done
check "(2) H still answers brokerctl on its own socket" bctl_ok H
link_up G connect && pass "(2) the link stays up" || fail "(2) the link went down"

# ---- (3) listeners G asks H for ---------------------------------------------
P2=$(free_port)
ABS="brk-evil-$$"
# Added while the link is down, so they stay stored (route add refuses, and
# stores nothing, when the peer answers 'refused' at once): H refuses them
# at the next sync, and again after each restart below.
bstop H
broute_waiting() {
	bctl G route add "$1" --listen "$2" --connect "$3" >"$T/ctl.out" 2>&1
	[ $? -eq 3 ] || bail "G: route add $1 while the link is down: $(cat "$T/ctl.out")"
}
wait_until 10 sh -c "! '$BROKERCTL' --runtime-dir '$T/G' --json link status | jq -e '.[] | select(.state == \"up\")' >/dev/null" ||
	bail "G's link did not go down with H"
broute_waiting l-any "peer:tcp://0.0.0.0:$P2" "unix://$T/echo.sock"
broute_waiting l-low "peer:tcp://127.0.0.1:23" "unix://$T/echo.sock"
broute_waiting l-state "peer:unix://$T/Hs/evil.sock?mode=0666" "unix://$T/echo.sock"
broute_waiting l-abs "peer:unix://@$ABS" "unix://$T/echo.sock"
startH
wait_link_up G 15 connect || bail "G did not relink to H"
# checks_listen LABEL: none of the four exists on H; G's routes say why.
checks_listen() {
	wait_until 10 sh -c "'$BROKERCTL' --runtime-dir '$T/G' route list | grep -w l-abs | grep -q refused"
	h_listens "$P2" && fail "(3) $1: H listens on port $P2 for the guest: $(ss -Hltn | grep ":$P2")" ||
		pass "(3) $1: no listener on port $P2 (asked for 0.0.0.0)"
	listening_on "0.0.0.0:$P2" && fail "(3) $1: something listens on 0.0.0.0:$P2" ||
		pass "(3) $1: nothing on 0.0.0.0:$P2"
	h_listens 23 && fail "(3) $1: H listens on port 23" || pass "(3) $1: H does not listen on port 23"
	[ -e "$T/Hs/evil.sock" ] && fail "(3) $1: a socket appeared in H's state dir" ||
		pass "(3) $1: no socket in H's state dir"
	grep -q "@$ABS" /proc/net/unix && fail "(3) $1: abstract socket @$ABS exists" ||
		pass "(3) $1: no abstract socket @$ABS"
	for r in l-any l-low l-state l-abs; do
		case $(g_state "$r") in
		*"down: peer "*refused*) pass "(3) $1: G's route $r says: $(g_state "$r" | sed 's/.*down: peer [^:]*: //' | cut -c1-150)" ;;
		*) fail "(3) $1: G's route $r: $(g_state "$r")" ;;
		esac
	done
}
checks_listen "default policy"
[ "$(counter H accepted listens_refused)" -ge 4 ] && [ "$(counter G connect refused_by_peer)" -ge 4 ] &&
	pass "(3) counted: H listens_refused=$(counter H accepted listens_refused), G refused_by_peer=$(counter G connect refused_by_peer)" ||
	fail "(3) counters: H listens_refused=$(counter H accepted listens_refused), G refused_by_peer=$(counter G connect refused_by_peer)"
log_has G "the peer refused to listen for it: tcp://0.0.0.0:$P2" && log_has H "l-any \\(for peer $HGID\\): .*refused" &&
	pass "(3) both logs name the refusal: '$(last_log H "l-any .for peer")'" ||
	fail "(3) refusal missing from a log: G '$(last_log G "l-any")' H '$(last_log H "l-any")'"

restartH --peer-allow-listen 'tcp://*' --peer-allow-listen "unix://$T/*" --peer-allow-listen 'unix://*' \
	--peer-max-routes 3
checks_listen "patterns that match them"

# A loopback listener the pattern allows works; its streams come back by route id.
P3=$(free_port)
broute G l-ok "peer:tcp://127.0.0.1:$P3" "unix://$T/echo.sock"
if wait_until 10 h_listens "$P3" && echo_1m "tcp:127.0.0.1:$P3" "$T/ok.out"
then pass "(3) an allowed loopback listener on H relays to G's echo server ($(cut -c1-60 "$T/ok.out"))"
else fail "(3) allowed listener: $(g_state l-ok); $(cat "$T/ok.out" 2>/dev/null)"; fi
route_line H "$HGID/l-ok" | grep -q "listening" && pass "(3) H lists it as $HGID/l-ok" ||
	fail "(3) H's route list: $(bctl H route list | tr '\n' '|')"
# route rm on H closes it; G's next sync does not bring it back.
if bctl H route rm "$HGID/l-ok" >"$T/rm.out" 2>&1 && ! wait_until 2 h_listens "$P3"; then
	pass "(3) H: route rm $HGID/l-ok: $(cat "$T/rm.out"); port $P3 closed"
else fail "(3) route rm of G's route on H: $(cat "$T/rm.out"); listening: $(h_listens "$P3" && echo yes)"; fi
broute G l-later "peer:tcp://127.0.0.1:$(free_port)" "unix://$T/echo.sock"
sleep 1
h_listens "$P3" && fail "(3) G's next sync reopened the removed route" ||
	pass "(3) G's next sync leaves it closed: G shows '$(g_state l-ok | sed 's/.*down: peer [^:]*: //' | cut -c1-100)'"
# The cap: l-later plus three more, and only three fit.
for k in 1 2; do broute G "l-cap$k" "peer:tcp://127.0.0.1:$(free_port)" "unix://$T/echo.sock"; done
# The fourth is refused as it is added: route add says why and stores nothing.
bctl G route add l-cap3 --listen "peer:tcp://127.0.0.1:$(free_port)" --connect "unix://$T/echo.sock" >"$T/cap3.out" 2>&1
cap3_rc=$?
ncap=$(grep -c "peer-max-routes" "$T/cap3.out")
[ "$cap3_rc" -eq 1 ] && ! bctl G route list | grep -qw l-cap3 &&
	pass "(3) l-cap3 over the cap: route add exits 1 and stores nothing: $(cut -c1-160 "$T/cap3.out")" ||
	fail "(3) l-cap3 over the cap: exit $cap3_rc, $(cat "$T/cap3.out"); G lists: $(bctl G route list | tr '\n' '|')"
nheld=$(bctl H route list | grep -c "^$HGID/")
[ "$ncap" -ge 1 ] && [ "$nheld" -eq 3 ] &&
	pass "(3) --peer-max-routes 3: H holds $nheld of G's routes, $ncap refused citing --peer-max-routes" ||
	fail "(3) cap: H holds $nheld routes for G, $ncap refused: $(bctl H route list | tr '\n' '|')"
# The guest's listeners close when its link goes.
bctl G route rm l-later >/dev/null 2>&1
P4=$(free_port)
bctl G route rm l-cap1 >/dev/null 2>&1
broute G l-gone "peer:tcp://127.0.0.1:$P4" "unix://$T/echo.sock"
wait_until 10 h_listens "$P4" || bail "(3) l-gone never listened on H: $(g_state l-gone)"
bstop G
if wait_until 10 sh -c "! ss -Hltnp | grep ':$P4 ' | grep -q 'pid=$PID_H,'"; then
	pass "(3) G's link went: H closed port $P4"
else fail "(3) H still listens on $P4 after G's link went"; fi
bctl H route list | grep -q "^$HGID/" && fail "(3) H still lists G's routes: $(bctl H route list | tr '\n' '|')" ||
	pass "(3) H lists none of G's routes once its link is gone"

# --mapping-bind as-given: 0.0.0.0 is what the user allowed; the check sees the listener.
restartH() { bstop H; startH "$@"; }
restartH --peer-allow-listen 'tcp://*' --mapping-bind as-given
startG
wait_link_up G 15 connect || bail "G did not relink"
if wait_until 10 listening_on "0.0.0.0:$P2"; then pass "(3) with --mapping-bind as-given H does listen on 0.0.0.0:$P2"
else fail "(3) as-given: no 0.0.0.0:$P2 listener: $(g_state l-any)"; fi
bstop G

# ---- (4) allowed automatically -----------------------------------------------
# The guest side of a mapping H reported: linkpeer opens it, and only it.
restartH
serve tcpecho echo "tcp:127.0.0.1:0"
ECHO=${SERVE_ADDR#tcp:}
MP=$(free_port)
bctl H mapping add "$MP" --connect "$ECHO" >"$T/madd.out" 2>&1 || bail "(4) mapping add: $(cat "$T/madd.out")"
"$LINKPEER" open "$LINKU" "tcp://$ECHO" --send ping >"$T/m.out" 2>&1
grep -q "open: OK" "$T/m.out" && pass "(4) the guest side of a reported mapping (tcp://$ECHO) opens" ||
	fail "(4) reported mapping target: $(tr '\n' ' ' <"$T/m.out")"
"$LINKPEER" open "$LINKU" "tcp://127.0.0.1:$MP" >"$T/m2.out" 2>&1
grep -q "open: refused errno 1: .*no --peer-allow-connect" "$T/m2.out" &&
	pass "(4) another address is not: $(grep -o 'open: refused.*' "$T/m2.out" | cut -c1-90)" ||
	fail "(4) an unreported target: $(tr '\n' ' ' <"$T/m2.out")"
"$LINKPEER" open "$LINKU" "tcp://$ECHO?netns=/proc/1/ns/net" >"$T/m3.out" 2>&1
grep -q "open: refused" "$T/m3.out" && pass "(4) the mapping's address with a parameter is not it" ||
	fail "(4) mapping target with ?netns: $(tr '\n' ' ' <"$T/m3.out")"

# A --link-stdio child (A) trusts its parent (B); B does not trust A.
bstart B --link-connect "exec:$BROKERD --link-stdio --runtime-dir $T/A --state-dir $T/A $LINK_PLUGIN_ARGS --log-level debug"
wait_link_up B 15 connect || bail "B's stdio link not up: $(link_field B connect last_error)"
broute B s-conn "unix://$T/s-in.sock" "peer:unix://$T/echo.sock"
echo_1m "unix:$T/s-in.sock" "$T/s1.out" &&
	pass "(4) the stdio child lets its parent reach unix://$T/echo.sock with no flag" ||
	fail "(4) parent -> child target: $(cat "$T/s1.out")"
broute B s-list "peer:unix://$T/s-pl.sock" "unix://$T/echo.sock"
if wait_until 10 test -S "$T/s-pl.sock" &&
	echo_1m "unix:$T/s-pl.sock" "$T/s2.out"; then
	pass "(4) the stdio child listens for its parent with no flag"
else fail "(4) parent's listener on the child: $(route_line B s-list)"; fi
broute B s-exec "unix://$T/s-ex.sock" "peer:exec:/bin/sh -c 'id > $T/pwned-stdio'"
"$XFER" send "unix:$T/s-ex.sock" 16 --io-timeout 5 >/dev/null 2>&1
sleep 1
[ -e "$T/pwned-stdio" ] && fail "(4) the stdio child ran its parent's exec: target" ||
	pass "(4) the stdio child still refuses exec: from its parent: '$(last_log B "refused the stream" | sed 's/.*stream: //' | cut -c1-100)'"
"$BROKERCTL" --runtime-dir "$T/A" route add back --listen "unix://$T/back.sock" --connect "peer:unix://$T/echo.sock" >/dev/null 2>&1
"$XFER" send "unix:$T/back.sock" 16 --expect empty --io-timeout 5 >"$T/s3.out" 2>&1
if wait_log B "refused the peer's OPEN.*no --peer-allow-connect" 5; then
	pass "(4) the parent does not trust the child: B refused A's OPEN"
else fail "(4) child -> parent: B did not refuse: $(cat "$T/s3.out") $(last_log B "OPEN")"; fi
bstop B

# ---- (5) the README's flow -----------------------------------------------------
# guest$ brokerd --link-listen unix:///run/broker/link.sock \
#            --peer-allow-connect unix:///var/run/docker.sock --peer-allow-listen 'tcp://127.0.0.1:*'
# host$  brokerd --link-connect unix:///run/broker/link.sock
# (the echo server stands in for docker.sock and for the host's API)
serve hostapi echo "tcp:127.0.0.1:0"
API=${SERVE_ADDR#tcp:}
PD=$(free_port)
PA=$(free_port)
bstart RG --link-listen "unix://$T/rlink.sock" --peer-allow-connect "unix://$T/echo.sock" \
	--peer-allow-listen 'tcp://127.0.0.1:*'
bstart RH --link-connect "unix://$T/rlink.sock"
wait_link_up RH 15 connect || bail "(5) README link not up: $(link_field RH connect last_error)"
broute RH docker "tcp://127.0.0.1:$PD" "peer:unix://$T/echo.sock"
broute RH hostapi "peer:tcp://127.0.0.1:$PA" "tcp://$API"
echo_1m "tcp:127.0.0.1:$PD" "$T/r1.out" &&
	pass "(5) README: host route docker -> peer:unix://.../docker.sock relays" ||
	fail "(5) README docker route: $(cat "$T/r1.out"); $(route_line RH docker)"
if wait_until 10 "$XFER" wait-connect "tcp:127.0.0.1:$PA" 1 &&
	echo_1m "tcp:127.0.0.1:$PA" "$T/r2.out"; then
	pass "(5) README: route hostapi listening on the guest relays to the host's service"
else fail "(5) README hostapi route: $(cat "$T/r2.out" 2>/dev/null); $(route_line RH hostapi)"; fi
bstop RH
bstop RG

check "H still answers brokerctl" bctl_ok H
bstop H && [ "$STOP_RC" = 0 ] && pass "H exits 0 on SIGTERM" || fail "H stop: $STOP_RC"
for l in "$T"/*.log; do
	sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"
done
finish
