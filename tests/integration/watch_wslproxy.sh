#!/bin/sh
# tests/integration/watch_wslproxy.sh - the wslproxy watcher (Rancher
# Desktop's port-mapping socket) between two real brokers.
#
# Topology (tests/integration/guest_lib.sh): a "guest" network namespace runs
# brokerd G with --watch wslproxy,socket=$T/wsl-proxy.sock and --link-listen;
# the host brokerd H in the default namespace dials it.  PortMapping objects,
# byte for byte as Rancher Desktop's guest agent writes them (Go's
# json.Encoder: the object, a newline, close), are sent to G's socket with
# socat.  Checks:
#   1. the socket is mode 0600 (srw-------)
#   2. an add (connectAddrs given) -> H lists the port and 127.0.0.1:P relays
#      to the echo server at the connectAddrs address in the guest
#      (1 MiB, sha256 checked by xfer --expect echo)
#   3. the agent's own shape ("connectAddrs":null, 0.0.0.0 and :: of one
#      port) -> upstream:HostPort, as wsl-proxy forwards
#   4. udp: datagrams through the host port come back identical
#   5. "remove":true -> the mapping goes from G and H, the host port closes
#   6. bad JSON, a wrong type, an oversize object, a stalled or silent client,
#      a truncated object, too many clients: each one logged error naming the cause, nothing mapped
#
# Needs root, ip, nsenter, socat, jq.  POSIX sh (dash).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/guest_lib.sh"
plan 35

[ "$(id -u)" -eq 0 ] || bail "needs root (network namespace)"
command -v ip >/dev/null 2>&1 && command -v ss >/dev/null 2>&1 || bail "ip, ss (iproute2) not installed"
command -v nsenter >/dev/null 2>&1 || bail "nsenter (util-linux) not installed"
command -v socat >/dev/null 2>&1 || bail "socat not installed (scripts/bootstrap installs it)"
WP_DIR="$top_builddir/plugins/wslproxy/.libs"
[ -e "$WP_DIR/wslproxy.so" ] || bail "wslproxy plugin not built ($WP_DIR/wslproxy.so)"
UDPECHO="$top_builddir/tests/tools/udpecho"
[ -x "$UDPECHO" ] || bail "udpecho not built ($UDPECHO)"

guest_init wslproxy wp
guest_netns

SOCK="$T/wsl-proxy.sock"
guest_brokers --plugin-dir "$WP_DIR" \
	--watch "wslproxy,socket=$SOCK,upstream=$GUEST_IP,timeout_ms=1500,max_conns=2"
wait_log G "wslproxy.*listening for Rancher Desktop port mappings on $SOCK" 10 ||
	bail "guest broker did not start the wslproxy watcher"

# send OBJECT: one connection, the object and a newline, then close (the agent's way).
send() { printf '%s\n' "$1" | socat -u - "UNIX-CONNECT:$SOCK"; }
# serve_in_guest NAME ADDR: an xfer echo server in the guest namespace.
serve_in_guest() {
	rm -f "$T/$1.ready"
	in_ns "$XFER" serve-echo "tcp:$2" --ready "$T/$1.ready" --lifetime 300 >"$T/$1.log" 2>&1 &
	record $!
	wait_until 10 test -s "$T/$1.ready" || bail "echo server $1 in $NS did not start"
}
# relay_ok PORT: 1 MiB through the host's 127.0.0.1:PORT comes back identical (sha256).
relay_ok() {
	"$XFER" send "tcp:127.0.0.1:$1" 1048576 --expect echo --timeout 20 --io-timeout 10 >"$T/relay.$1" 2>&1
}

# --- 1. the socket ----------------------------------------------------------------
check "socket $SOCK is mode 0600" test "$(stat -c %a "$SOCK")" = 600

# --- 2. an add with connectAddrs -----------------------------------------------------
P1=$(free_port)
EP1=$(free_port)
serve_in_guest echo1 "$GUEST_IP:$EP1"
send "{\"remove\":false,\"ports\":{\"$EP1/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"$P1\"}]},\"connectAddrs\":[{\"network\":\"tcp\",\"addr\":\"$GUEST_IP:$EP1\"}]}"
check "add: guest log says tcp/$P1 on 127.0.0.1 -> $GUEST_IP:$EP1" \
	wait_log G "wslproxy.*: tcp/$P1 on 127.0.0.1 -> $GUEST_IP:$EP1" 10
check "add: guest 'mapping list' has owner tcp/$P1" owner_listed G "tcp/$P1"
check "add: host 'mapping list' shows port $P1" wait_until 15 mapping_listed H "$P1"
if wait_until 15 relay_ok "$P1"; then
	pass "add: host 127.0.0.1:$P1 relays 1 MiB to $GUEST_IP:$EP1 and back ($(tr '\n' ' ' <"$T/relay.$P1"))"
else
	fail "add: host 127.0.0.1:$P1 did not relay: $(tr '\n' ' ' <"$T/relay.$P1" 2>/dev/null)"
fi

# --- 3. the agent's own shape: connectAddrs null -> upstream:HostPort -------------------
P2=$(free_port)
serve_in_guest echo2 "$GUEST_IP:$P2"
send "{\"remove\":false,\"ports\":{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"$P2\"},{\"HostIp\":\"::\",\"HostPort\":\"$P2\"}]},\"connectAddrs\":null}"
check "agent shape: guest log says tcp/$P2 on 0.0.0.0,:: -> $GUEST_IP:$P2 (upstream:HostPort)" \
	wait_log G "wslproxy.*: tcp/$P2 on 0.0.0.0,:: -> $GUEST_IP:$P2" 10
check "agent shape: host lists 0.0.0.0 and :: for port $P2" wait_until 15 sh -c \
	"'$BROKERCTL' --runtime-dir '$T/H' mapping list --json | jq -e --argjson p $P2 '[.[] | select(.host_port == \$p)] | length == 2' >/dev/null"
if wait_until 15 relay_ok "$P2"; then
	pass "agent shape: host 127.0.0.1:$P2 relays 1 MiB to upstream $GUEST_IP:$P2 and back"
else
	fail "agent shape: host 127.0.0.1:$P2 did not relay: $(tr '\n' ' ' <"$T/relay.$P2" 2>/dev/null)"
fi

# --- 4. udp ---------------------------------------------------------------------------
PU=$("$UDPECHO" free-port 2>/dev/null || free_port)
rm -f "$T/uecho.ready"
in_ns "$UDPECHO" serve "$GUEST_IP:$PU" --ready "$T/uecho.ready" --lifetime 300 >"$T/uecho.log" 2>&1 &
record $!
wait_until 10 test -s "$T/uecho.ready" || bail "udpecho server in $NS did not start"
send "{\"remove\":false,\"ports\":{\"53/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"$PU\"}]},\"connectAddrs\":[{\"network\":\"tcp\",\"addr\":\"$GUEST_IP:1\"},{\"network\":\"udp\",\"addr\":\"$GUEST_IP:$PU\"}]}"
check "udp: guest log says udp/$PU -> $GUEST_IP:$PU (the udp connectAddr)" \
	wait_log G "wslproxy.*: udp/$PU on 127.0.0.1 -> $GUEST_IP:$PU" 10
udp_bound() { ss -Hlun "sport = :$PU" 2>/dev/null | grep -q "127.0.0.1:$PU"; }
check "udp: host binds 127.0.0.1:$PU" wait_until 15 udp_bound
if "$UDPECHO" check "127.0.0.1:$PU" 1 1400 9000 --timeout 15 >"$T/udp.out" 2>&1; then
	pass "udp: datagrams of 1, 1400, 9000 bytes come back identical ($(tr '\n' ' ' <"$T/udp.out"))"
else
	fail "udp: round trips through 127.0.0.1:$PU: $(tr '\n' ' ' <"$T/udp.out")"
fi

# --- 5. remove ------------------------------------------------------------------------
send "{\"remove\":true,\"ports\":{\"$EP1/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"$P1\"}]},\"connectAddrs\":null}"
check "remove: guest log says tcp/$P1 removed" wait_log G "wslproxy.*: tcp/$P1 removed" 10
check "remove: guest mapping for $P1 gone" wait_until 10 mapping_gone G "$P1"
check "remove: host mapping for $P1 gone" wait_until 15 mapping_gone H "$P1"
check "remove: host 127.0.0.1:$P1 closed" wait_until 15 port_closed "$P1"
check "remove: the other port ($P2) still relays" relay_ok "$P2"

# --- 6. bad input ---------------------------------------------------------------------
PB=$(free_port)
send "{\"remove\":false,\"ports\":{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"$PB\"}]]}"
check "bad JSON: one error naming it" wait_log G "error +\[wslproxy\] .*bad PortMapping object: not JSON: .*column [0-9]+; nothing mapped or removed" 10
send "{\"remove\":false,\"ports\":{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":$PB}]},\"connectAddrs\":null}"
check "wrong type: the error names the field" wait_log G \
	'error +\[wslproxy\] .*bad PortMapping object: ports\["80/tcp"\]\[0\]\."HostPort" must be a string, not an integer' 10
send "{\"remove\":false,\"ports\":{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"abc\"},{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"70000\"}]},\"connectAddrs\":null}"
check "bad HostPort: skipped with a warning" wait_log G 'wslproxy.*HostPort "70000" is not a port number 1-65535; skipped' 10
# A valid object padded with spaces past max_bytes (65536): refused before it is parsed.
{ printf '{"remove":false,'; head -c 70000 /dev/zero | tr '\0' ' ';
  printf '"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"%s"}]},"connectAddrs":null}\n' "$PB"; } |
	socat -u - "UNIX-CONNECT:$SOCK" 2>/dev/null
check "oversize: refused past max_bytes" wait_log G "wslproxy.*object larger than max_bytes=65536; closed, nothing mapped" 10
# A client that starts an object and stalls: closed after timeout_ms (1500).
{ printf '{"remove":false,'; sleep 4; } | socat -u - "UNIX-CONNECT:$SOCK" 2>/dev/null &
STALL=$!
check "stalled client: closed after timeout_ms" wait_log G \
	"wslproxy.*no complete PortMapping object within 1500 ms \(16 bytes\); closed, nothing mapped" 10
wait "$STALL" 2>/dev/null
# A client that connects and sends nothing: closed after timeout_ms too.
{ sleep 4; } | socat -u - "UNIX-CONNECT:$SOCK" 2>/dev/null &
SILENT=$!
check "silent client: closed after timeout_ms" wait_log G \
	"wslproxy.*no complete PortMapping object within 1500 ms \(0 bytes\); closed, nothing mapped" 10
wait "$SILENT" 2>/dev/null
send '{"remove":false,"ports":{'
check "truncated object: error when the client closes early" wait_log G \
	"wslproxy.*connection closed after 26 bytes, before a complete JSON object; nothing mapped" 10
# max_conns=2: four stalled clients at once, two are closed at accept.
for _i in 1 2 3 4; do
	{ printf '{'; sleep 3; } | socat -u - "UNIX-CONNECT:$SOCK" 2>/dev/null &
done
check "too many clients: closed at accept with a warning" wait_log G \
	"wslproxy.*connection\(s\) closed at accept: max_conns=2 are already open" 10
sleep 4
check "bad input: port $PB mapped nowhere (guest)" mapping_gone G "$PB"
check "bad input: port $PB mapped nowhere (host)" mapping_gone H "$PB"
check "bad input: host port $PB not listening" port_closed "$PB"
P3=$(free_port)
send "{\"remove\":false,\"ports\":{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"$P3\"}]},\"connectAddrs\":[{\"network\":\"tcp\",\"addr\":\"$GUEST_IP:$P2\"}]}"
check "after all that: a new add still works (port $P3 relays)" wait_until 15 relay_ok "$P3"

check "guest broker still running" balive G
check "host broker still running" balive H
check "no sanitizer report from the guest broker" sanitizer_clean "$(blog G)"
check "no sanitizer report from the host broker" sanitizer_clean "$(blog H)"
bstop G && [ "$STOP_RC" = 0 ] && pass "guest broker exits 0 on SIGTERM" || fail "guest broker exit: $STOP_RC"
check "guest broker removed its socket at stop" test ! -e "$SOCK"
bstop H && [ "$STOP_RC" = 0 ] && pass "host broker exits 0 on SIGTERM" || fail "host broker exit: $STOP_RC"
finish
