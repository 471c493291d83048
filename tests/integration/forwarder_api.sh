#!/bin/sh
# tests/integration/forwarder_api.sh - gvproxy's port-forwarder HTTP API on
# the host broker (--forwarder-api, issue 14 part 2), with two real linked
# brokers: H (the host: accepts the link, serves the API on a unix socket)
# and G (the guest: dials H, runs nothing but its policy, which lets H's
# streams reach its echo server only).  The client is curl, spoken exactly
# as gvproxy's README does:
#   curl --unix-socket SOCK http:/unix/services/forwarder/expose -X POST -d '{...}'
#
#  (1) the socket: mode 0600; as nobody (setpriv) it cannot be reached, and
#      with its mode opened on purpose the uid check still answers 403 and
#      adds nothing.
#  (2) expose -> 200; the host port relays to G's echo server (1 MiB
#      checksummed, xfer); `all` answers in gvproxy's shape; `brokerctl
#      route list` shows the route; a second expose of the same local is
#      500 "proxy already running ...".
#  (3) it survives a restart of H (stored) and still relays.
#  (4) unexpose -> 200, the port closes, `all` is [] again; unexposing it
#      again is 500 "proxy not found ...".
#  (5) bad requests -> 400 with one plain-text line, nothing added: bad
#      JSON, an array, unknown protocol, missing local/remote, a remote
#      without host, GET on expose ("post only"); a body over the cap is
#      413; an unknown path is 404.
#  (6) a target G's policy refuses -> 500 naming G's reason; nothing kept.
#  (7) ":PORT" (no host) listens on every address, as in gvproxy; the
#      "unix" protocol listens on a socket path and reaches tcp:// in G.
#  (8) tcp://127.0.0.1:PORT serves the same API; a non-loopback address is
#      refused at start.
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 38
command -v curl >/dev/null 2>&1 || bail "curl not installed (scripts/bootstrap installs it)"
command -v setpriv >/dev/null 2>&1 || bail "setpriv (util-linux) not installed"
command -v ss >/dev/null 2>&1 || bail "ss (iproute2) not installed (scripts/bootstrap installs it)"

serve echo echo "tcp:127.0.0.1:0"
ECHOPORT=${SERVE_ADDR##*:}
LINKU="unix://$T/link.sock"
KA="--link-keepalive 1 --link-timeout 5"
# The API socket sits in a directory others may traverse, so that only the
# socket's own mode and the uid check stand between nobody and the API.
API="$T/api"
mkdir -p -m 711 "$API"
SOCK="$API/network.sock"

startH() { bstart H --link-listen "$LINKU" --forwarder-api "unix://$SOCK" $KA "$@"; }
startG() { bstart G --link-connect "$LINKU" $KA --link-backoff-max 1 \
	--peer-allow-connect "tcp://127.0.0.1:$ECHOPORT" "$@"; }

# api METHOD PATH [BODY]: curl on the API socket; status in $CODE, body in $T/body.
api() {
	if [ $# -ge 3 ]; then
		CODE=$(curl -sS --max-time 20 --unix-socket "$SOCK" "http:/unix$2" -X "$1" -d "$3" \
			-o "$T/body" -w '%{http_code}' 2>"$T/curl.err")
	else
		CODE=$(curl -sS --max-time 20 --unix-socket "$SOCK" "http:/unix$2" -X "$1" \
			-o "$T/body" -w '%{http_code}' 2>"$T/curl.err")
	fi
}
body() { cat "$T/body"; }
# expect CODE TEXT LABEL: the last api call answered CODE with a body containing TEXT (fixed string).
expect() {
	if [ "$CODE" = "$1" ] && grep -qF -- "$2" "$T/body"; then pass "$3: $CODE $(head -c 200 "$T/body" | tr '\n' ' ')"
	else fail "$3: want $1 '$2', got '$CODE' '$(head -c 300 "$T/body")' $(cat "$T/curl.err")"; fi
}
all_is() { api GET /services/forwarder/all; [ "$CODE" = 200 ] && [ "$(body)" = "$1" ]; }
h_listens() { ss -Hltnp 2>/dev/null | awk -v p=":$1" '$4 ~ p"$"' | grep -q "pid=$PID_H,"; }
echo_1m() { "$XFER" send "$1" 1M --expect echo --io-timeout 10 >"$2" 2>&1 && grep -q "sent 1048576 " "$2"; }

startH
startG
wait_link_up G 15 connect || bail "G's link to H not up: $(link_field G connect last_error)"
pass "H and G linked; G's echo server on 127.0.0.1:$ECHOPORT"

# ---- (1) the socket ---------------------------------------------------------
mode=$(stat -c %a "$SOCK")
[ "$mode" = 600 ] && pass "(1) $SOCK has mode $mode" || fail "(1) $SOCK has mode $mode, not 600"
chmod 711 "$T"
P=$(free_port)
REQ="{\"local\":\"127.0.0.1:$P\",\"remote\":\"127.0.0.1:$ECHOPORT\"}"
if setpriv --reuid=nobody --regid=nogroup --clear-groups curl -sS --max-time 10 --unix-socket "$SOCK" \
	http:/unix/services/forwarder/expose -X POST -d "$REQ" >"$T/nobody.out" 2>&1; then
	fail "(1) nobody reached the API: $(cat "$T/nobody.out")"
else pass "(1) as nobody, the 0600 socket cannot be reached: $(tr '\n' ' ' <"$T/nobody.out" | cut -c1-120)"; fi
# Its mode opened by mistake: the peer-uid check still keeps nobody out.
chmod 666 "$SOCK"
# (nobody cannot write in $T: the answer comes back on stdout, the status last.)
setpriv --reuid=nobody --regid=nogroup --clear-groups curl -sS --max-time 10 --unix-socket "$SOCK" \
	http:/unix/services/forwarder/expose -X POST -d "$REQ" -w '\n%{http_code}\n' >"$T/nobody.body" 2>&1
chmod 600 "$SOCK"
chmod 700 "$T"
CODE=$(tail -n 1 "$T/nobody.body")
if [ "$CODE" = 403 ] && grep -q "^forbidden" "$T/nobody.body" && log_has H "refused a request from uid $(id -u nobody) "; then
	pass "(1) socket opened to all: nobody gets $CODE '$(head -n 1 "$T/nobody.body")'; H logs uid $(id -u nobody)"
else fail "(1) socket opened to all: nobody got '$(tr '\n' ' ' <"$T/nobody.body")'"; fi
all_is "[]" && ! h_listens "$P" && pass "(1) nobody's request added nothing" ||
	fail "(1) after nobody's request: all=$(body), listening=$(h_listens "$P" && echo yes)"

# ---- (2) expose -------------------------------------------------------------
api POST /services/forwarder/expose "$REQ"
[ "$CODE" = 200 ] && [ ! -s "$T/body" ] && pass "(2) expose $REQ: 200, empty body" ||
	fail "(2) expose: $CODE $(body) $(cat "$T/curl.err")"
if wait_until 10 h_listens "$P" && echo_1m "tcp:127.0.0.1:$P" "$T/x1.out"; then
	pass "(2) 127.0.0.1:$P relays to G's echo server: $(cut -c1-90 "$T/x1.out")"
else fail "(2) relay through 127.0.0.1:$P: $(cat "$T/x1.out")"; fi
WANT="[{\"local\":\"127.0.0.1:$P\",\"remote\":\"127.0.0.1:$ECHOPORT\",\"protocol\":\"tcp\"}]"
all_is "$WANT" && pass "(2) all: $(body)" || fail "(2) all: want $WANT, got $CODE $(body)"
bctl H route list >"$T/routes.out" 2>&1
grep "fwd-tcp-127.0.0.1_$P" "$T/routes.out" | grep -q "peer:tcp://127.0.0.1:$ECHOPORT" &&
	pass "(2) brokerctl route list: $(grep "fwd-tcp" "$T/routes.out" | tr -s ' ' | cut -c1-150)" ||
	fail "(2) route list: $(tr '\n' '|' <"$T/routes.out")"
api POST /services/forwarder/expose "$REQ"
expect 500 "proxy already running for tcp on 127.0.0.1:$P" "(2) the same expose again"

# ---- (3) a restart of H -----------------------------------------------------
bstop H
startH
wait_link_up G 15 connect || bail "G did not relink to H"
if wait_until 10 h_listens "$P" && echo_1m "tcp:127.0.0.1:$P" "$T/x2.out"; then
	pass "(3) after H's restart 127.0.0.1:$P relays again: $(cut -c1-90 "$T/x2.out")"
else fail "(3) after restart: $(cat "$T/x2.out"); $(route_line H fwd-tcp)"; fi
all_is "$WANT" && pass "(3) all after the restart: $(body)" || fail "(3) all after the restart: $CODE $(body)"

# ---- (4) unexpose -----------------------------------------------------------
api POST /services/forwarder/unexpose "{\"local\":\"127.0.0.1:$P\"}"
[ "$CODE" = 200 ] && pass "(4) unexpose 127.0.0.1:$P: 200" || fail "(4) unexpose: $CODE $(body)"
if wait_until 5 sh -c "! ss -Hltn | awk '{print \$4}' | grep -qx '127.0.0.1:$P'"; then
	pass "(4) port $P closed"
else fail "(4) port $P still listening"; fi
all_is "[]" && pass "(4) all: $(body)" || fail "(4) all: $CODE $(body)"
route_line H "fwd-tcp-127.0.0.1_$P" >/dev/null && fail "(4) the route is still listed" ||
	pass "(4) brokerctl route list no longer has it"
api POST /services/forwarder/unexpose "{\"local\":\"127.0.0.1:$P\",\"protocol\":\"tcp\"}"
expect 500 "proxy not found" "(4) unexpose again"

# ---- (5) bad requests -------------------------------------------------------
api POST /services/forwarder/expose '{"local":"127.0.0.1:1,'
expect 400 "bad JSON" "(5) truncated JSON"
api POST /services/forwarder/expose '[1,2]'
expect 400 "must be a JSON object" "(5) an array"
api POST /services/forwarder/expose "{\"local\":\"127.0.0.1:$P\",\"remote\":\"127.0.0.1:$ECHOPORT\",\"protocol\":\"sctp\"}"
expect 400 "unknown protocol sctp" "(5) unknown protocol"
api POST /services/forwarder/expose "{\"remote\":\"127.0.0.1:$ECHOPORT\"}"
expect 400 'missing "local"' "(5) no local"
api POST /services/forwarder/expose "{\"local\":\"127.0.0.1:$P\"}"
expect 400 'missing "remote"' "(5) no remote"
api POST /services/forwarder/expose "{\"local\":\"127.0.0.1:$P\",\"remote\":\":$ECHOPORT\"}"
expect 400 "names no host" "(5) a remote without host"
api POST /services/forwarder/expose "{\"local\":\"127.0.0.1:$P\",\"remote\":7}"
expect 400 '"remote" must be a string' "(5) a number for remote"
api GET /services/forwarder/expose
expect 400 "post only" "(5) GET on expose"
head -c 6000 /dev/zero | tr '\0' ' ' >"$T/big.json"
api POST /services/forwarder/expose "@$T/big.json"
[ "$CODE" = 413 ] && pass "(5) a 6000-byte body: 413" || fail "(5) a 6000-byte body: $CODE $(body)"
api GET /services/forwarder/nothing
expect 404 "404 page not found" "(5) an unknown path"
all_is "[]" && ! h_listens "$P" && pass "(5) the bad requests added nothing" || fail "(5) after bad requests: $(body)"

# ---- (6) a target G refuses -------------------------------------------------
OTHER=$(free_port)
api POST /services/forwarder/expose "{\"local\":\"127.0.0.1:$P\",\"remote\":\"127.0.0.1:$OTHER\"}"
expect 500 "the peer refuses to connect to tcp://127.0.0.1:$OTHER" "(6) a target G's policy refuses"
grep -q "peer-allow-connect" "$T/body" && pass "(6) the answer names the fix (--peer-allow-connect)" ||
	fail "(6) no fix named: $(body)"
all_is "[]" && ! h_listens "$P" && ! route_line H fwd-tcp >/dev/null &&
	pass "(6) nothing kept: all is [], no listener, no route" ||
	fail "(6) kept: all=$(body); $(route_line H fwd-tcp)"

# ---- (7) ":PORT" and the unix protocol --------------------------------------
# The unix one first: the newest route is listed first, so `all` must sort.
api POST /services/forwarder/expose "{\"protocol\":\"unix\",\"local\":\"$T/app.sock\",\"remote\":\"tcp://127.0.0.1:$ECHOPORT\"}"
if [ "$CODE" = 200 ] && wait_until 10 test -S "$T/app.sock" && echo_1m "unix:$T/app.sock" "$T/x4.out"; then
	pass "(7) protocol unix: $T/app.sock relays to G's echo server"
else fail "(7) unix: $CODE $(body); $(cat "$T/x4.out" 2>/dev/null)"; fi
P2=$(free_port)
api POST /services/forwarder/expose "{\"local\":\":$P2\",\"remote\":\"127.0.0.1:$ECHOPORT\"}"
if [ "$CODE" = 200 ] && wait_until 10 sh -c "ss -Hltn | awk '{print \$4}' | grep -qx '0.0.0.0:$P2'" &&
	echo_1m "tcp:127.0.0.1:$P2" "$T/x3.out"; then
	pass "(7) local \":$P2\" listens on 0.0.0.0:$P2 and relays"
else fail "(7) \":$P2\": $CODE $(body); $(ss -Hltn | grep ":$P2")"; fi
WANT2="[{\"local\":\"$T/app.sock\",\"remote\":\"tcp://127.0.0.1:$ECHOPORT\",\"protocol\":\"unix\"},{\"local\":\":$P2\",\"remote\":\"127.0.0.1:$ECHOPORT\",\"protocol\":\"tcp\"}]"
all_is "$WANT2" && pass "(7) all, sorted by local: $(body)" || fail "(7) all: want $WANT2, got $(body)"
api POST /services/forwarder/unexpose "{\"local\":\":$P2\"}"
c1=$CODE
api POST /services/forwarder/unexpose "{\"local\":\"$T/app.sock\",\"protocol\":\"unix\"}"
[ "$c1" = 200 ] && [ "$CODE" = 200 ] && all_is "[]" && pass "(7) both unexposed" ||
	fail "(7) unexpose: $c1 $CODE $(body)"

# ---- (8) tcp on loopback ----------------------------------------------------
AP=$(free_port)
bstop H
startH --forwarder-api "tcp://127.0.0.1:$AP"
wait_link_up G 15 connect || bail "G did not relink to H"
CODE=$(curl -sS --max-time 20 "http://127.0.0.1:$AP/services/forwarder/expose" -X POST -d "$REQ" \
	-o "$T/body" -w '%{http_code}' 2>"$T/curl.err")
if [ "$CODE" = 200 ] && wait_until 10 h_listens "$P" && echo_1m "tcp:127.0.0.1:$P" "$T/x5.out"; then
	pass "(8) the API on tcp://127.0.0.1:$AP exposes 127.0.0.1:$P, which relays"
else fail "(8) tcp API: $CODE $(body) $(cat "$T/curl.err")"; fi
"$BROKERD" --runtime-dir "$T/H" --state-dir "$T/chk" $LINK_PLUGIN_ARGS --forwarder-api "tcp://0.0.0.0:$AP" --check-config \
	>"$T/chk.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "loopback only" "$T/chk.out" &&
	pass "(8) tcp://0.0.0.0 is refused: $(grep -m1 "loopback only" "$T/chk.out" | cut -c1-160)" ||
	fail "(8) tcp://0.0.0.0: exit $rc, $(cat "$T/chk.out")"

bstop G
bstop H && [ "$STOP_RC" = 0 ] && pass "H exits 0 on SIGTERM" || fail "H stop: $STOP_RC"
for l in "$T"/*.log; do
	sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"
done
finish
