#!/bin/sh
# tests/integration/watch_kubernetes.sh - the kubernetes watcher against a
# replayed API server, in a real guest network namespace.
#
# Topology: a network namespace (the "guest", veth GUEST_NET.1/24 host side,
# GUEST_NET.2/24 guest side, a /24 of its own per run) runs tests/tools/k8s_replay.py (HTTPS on the
# guest's 127.0.0.1, client certificates required) replaying
# tests/fixtures/kubernetes/scenario.json, and the guest brokerd with
# --watch kubernetes,kubeconfig=... and --link-listen on a unix socket; the
# host brokerd runs in the default namespace with --link-connect.  The
# replay server holds the watch stream at gates the test opens one by one:
#   0. list: NodePort, UDP NodePort, LoadBalancer (port + nodePort) and the
#      API server port appear on the host's 127.0.0.1; hostile items do not;
#      bytes go through 30080 to an echo server on the guest's 127.0.0.1.
#   1. MODIFIED/DELETED/type change: 30080 -> 30082, 30053 and 30133 close.
#   2. an event split over chunks, then the watch drops mid-event: 30083
#      appears, and after the resume (from resourceVersion 1008) 30090.
#   3. ERROR 410: relist -> LoadBalancer ports and the services not in the
#      new list close, 30091 appears.
#   4. truncated event, HTTP 410, a 5 MB event: each relists; the end state
#      is 30082 and 30095 only.
#
# Needs root, ip netns, nsenter, python3, openssl and jq (scripts/bootstrap).
# The fixtures are written from the Kubernetes API reference, not recorded.
# POSIX sh (dash).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/guest_lib.sh"
plan 27

[ "$(id -u)" -eq 0 ] || bail "needs root (network namespace)"
command -v ip >/dev/null 2>&1 || bail "ip (iproute2) not installed"
command -v nsenter >/dev/null 2>&1 || bail "nsenter (util-linux) not installed"
command -v python3 >/dev/null 2>&1 || bail "python3 not installed (scripts/bootstrap installs it)"
command -v openssl >/dev/null 2>&1 || bail "openssl command not installed"
command -v jq >/dev/null 2>&1 || bail "jq not installed (scripts/bootstrap installs it)"
K8_DIR="$top_builddir/plugins/kubernetes/.libs"
[ -e "$K8_DIR/kubernetes.so" ] || bail "kubernetes plugin not built ($K8_DIR/kubernetes.so)"
REPLAY="$top_srcdir/tests/tools/k8s_replay.py"
FIX="$top_srcdir/tests/fixtures/kubernetes"

# The fixtures name fixed node ports (30080, 8088, ...) that the host broker
# opens on the root namespace's 127.0.0.1: one run at a time on a machine.
exclusive k8s-node-ports
guest_init k8s k8
guest_netns

# --- the replayed API server (in the guest) -------------------------------------
RD="$T/k8s"
mkdir -p "$RD"
in_ns python3 "$REPLAY" serve --dir "$RD" --scenario "$FIX/scenario.json" --auth cert \
	--ready "$RD/ready" --lifetime 300 >"$T/replay.log" 2>&1 &
RPID=$!
record "$RPID"
wait_until 30 test -s "$RD/ready" || bail "replay server did not start: $(tail -n 3 "$T/replay.log")"
APIPORT=$(cat "$RD/ready")
gate() { : >"$RD/gate.$1"; }

# An echo server on the guest's 127.0.0.1:30080, where the web service's node port is.
in_ns "$XFER" serve-echo "tcp:127.0.0.1:30080" --ready "$T/echo.ready" --lifetime 300 >"$T/echo.log" 2>&1 &
record $!
wait_until 10 test -s "$T/echo.ready" || bail "echo server in $NS did not start"

# --- brokers ------------------------------------------------------------------
guest_brokers --plugin-dir "$K8_DIR" --watch "kubernetes,kubeconfig=$RD/kubeconfig"

# host_has PROTO PORT: the host's mapping list has it.
host_has() {
	bctl H mapping list --json 2>/dev/null |
		jq -e --arg p "$1" --argjson port "$2" 'any(.[]; .proto == $p and .host_port == $port)' >/dev/null
}
# host_listens PORT / host_udp PORT: a TCP listener / UDP socket on the host's 127.0.0.1:PORT.
host_listens() { ss -Htln "sport = :$1" 2>/dev/null | grep -q "127.0.0.1:$1"; }
host_udp() { ss -Huln "sport = :$1" 2>/dev/null | grep -q "127.0.0.1:$1"; }
# up PORT...: every TCP port listens on the host's 127.0.0.1 (and is in its mapping list).
up() {
	for _p in "$@"; do
		host_listens "$_p" || return 1
		host_has tcp "$_p" || return 1
	done
}
# down PORT...: none listens (nor is listed).
down() {
	for _p in "$@"; do
		host_listens "$_p" && return 1
		host_has tcp "$_p" && return 1
	done
	return 0
}
udp_down() { ! host_udp "$1"; }

wait_until 20 up 30080 || note "host mapping list: $(bctl H mapping list 2>&1 | head -20)"
check "list: NodePort 30080, LoadBalancer 8088/31088/8443/31443, 30133, 9090, 30081 and the API port $APIPORT listen on the host's 127.0.0.1" \
	wait_until 20 up 30080 8088 31088 8443 31443 30133 9090 30081 "$APIPORT"
check "list: UDP NodePort 30053 on the host's 127.0.0.1" wait_until 5 host_udp 30053
check "hostile items (no uid, nodePort 70000/0/\"30142\"/30143 FOO) not mapped" down 30140 30142 30143 30144 30145
if "$XFER" send "tcp:127.0.0.1:30080" 65536 --expect echo --timeout 5 --io-timeout 5 >"$T/x.out" 2>&1; then
	pass "bytes through the host's 127.0.0.1:30080 reach the guest's node port and echo back"
else
	fail "no echo through 30080: $(cat "$T/x.out")"
fi
guest_owner_ok() {
	bctl G mapping list --json 2>/dev/null | jq -e 'any(.[]; .owner == "5f0c7f6e-8a6e-4a52-9d6b-3c1f0d2e7a01" and
		(.description | contains("default/web")))' >/dev/null
}
check "guest lists owner = uid, description = namespace/name" guest_owner_ok

gate g1
check "MODIFIED web: 30082 listens" wait_until 15 up 30082
check "guest log: owner = uid, description = namespace/name" \
	log_has G "default/web \\(5f0c7f6e-8a6e-4a52-9d6b-3c1f0d2e7a01\\)"
check "MODIFIED web, DELETED dns, sctp-svc now ClusterIP: 30080 and 30133 closed" wait_until 15 down 30080 30133
check "DELETED dns: UDP 30053 gone" wait_until 15 udp_down 30053
check "DELETED of an unknown uid and a port-0 service map nothing (30199, 0)" down 30199

gate g2
check "event split over chunks: 30083 appears; dropped watch resumes: 30090 appears" wait_until 15 up 30083 30090
check "the resumed watch asked for resourceVersion 1008" grep -q "resourceVersion=1008&" "$RD/requests.log"

gate g3
check "ERROR 410 relists: 30091 appears" wait_until 15 up 30091 30082 30081 9090
check "relist removes the LoadBalancer and the services not listed any more" \
	wait_until 15 down 8088 31088 8443 31443 30090 30083

gate g4
check "truncated event, HTTP 410, 5 MB event: each relists; final state 30082 + 30095" \
	wait_until 25 up 30095 30082
check "final state: 30091, 30081 and 9090 closed" wait_until 10 down 30091 30081 9090
check "every request matched the replayed scenario" sh -c "! grep -q MISMATCH '$RD/requests.log'"
check "all 11 scenario steps were used" wait_until 15 grep -q "STEP 10" "$RD/requests.log"
check "guest log: 410 relist" log_has G "is gone .410"
check "guest log: watch dropped and resumed" log_has G "watch dropped"
check "guest log: huge event refused" log_has G "larger than 4194304 bytes"

check "guest broker still running" balive G
check "host broker still running" balive H
check "no sanitizer report from the guest broker" sanitizer_clean "$(blog G)"
check "no sanitizer report from the host broker" sanitizer_clean "$(blog H)"
bstop G && [ "$STOP_RC" = 0 ] && pass "guest broker exits 0 on SIGTERM" || fail "guest broker exit: $STOP_RC"
bstop H && [ "$STOP_RC" = 0 ] && pass "host broker exits 0 on SIGTERM" || fail "host broker exit: $STOP_RC"
finish
