#!/bin/sh
# tests/integration/setup_docker.sh - `brokerctl setup docker` against a
# real, private dockerd on the peer, driven by the real docker CLI.
#
# Topology (as watch_docker.sh): a network namespace (the "guest") holds a
# private dockerd (own data-root, exec-root and socket $SOCK; no bridge, no
# iptables: the containers run with --network none) and the guest brokerd,
# which allows its peer to open $SOCK (--peer-allow-connect) and
# $T/missing.sock (a socket nobody serves); the host brokerd links to it
# over a unix socket.  The image is `docker import` of a busybox-static
# rootfs, so nothing is pulled.  Every docker CLI call uses a temporary
# DOCKER_CONFIG, so no context of the machine's is touched.  Checks:
#   1. setup docker --socket $SOCK on the host: the route, the context, the
#      exact --peer-allow-connect flag, the dockerd's version through the
#      route, the `docker context use broker` line;
#   2. docker --context broker version shows the private dockerd's server
#      version; docker --context broker run --rm IMAGE echo hi prints hi;
#   3. setup again: nothing changes ("already there");
#   4. a socket the peer does not allow: the refusal names the flag;
#      an allowed socket nobody serves: "could not connect";
#   5. a context of the same name that setup did not create: left alone,
#      before and after --remove;
#   6. --remove (with the context in use): route, socket and context gone,
#      docker --context broker fails;
#   7. a broker whose link is down: the route is stored, exit 3, it says
#      why the dockerd was not asked.
#
# Needs root, ip netns, nsenter, dockerd + docker (docker.io) and a static
# busybox (busybox-static); skips with the reason otherwise.
# POSIX sh (dash).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/guest_lib.sh"
plan 38

[ "$(id -u)" -eq 0 ] || bail "needs root (network namespace, dockerd)"
command -v ip >/dev/null 2>&1 || bail "ip (iproute2) not installed"
command -v nsenter >/dev/null 2>&1 || bail "nsenter (util-linux) not installed"
DOCKERD=$(command -v dockerd) || bail "dockerd not installed (apt-get install docker.io)"
command -v docker >/dev/null 2>&1 || bail "docker client not installed (apt-get install docker.io)"
BUSYBOX=
for _b in /bin/busybox /usr/bin/busybox; do
	[ -x "$_b" ] && ! ldd "$_b" >/dev/null 2>&1 && { BUSYBOX=$_b; break; }
done
[ -n "$BUSYBOX" ] || bail "no static busybox (apt-get install busybox-static)"

# The docker CLI brokerctl runs is the one on PATH; so is ours.
DOCKER_CONFIG="$T/docker-config"
mkdir -p "$DOCKER_CONFIG"
export DOCKER_CONFIG
SOCK="$T/d.sock"
DPID=
guest_init setupdk sd

dk() { docker -H "unix://$SOCK" "$@"; }
# dkc ARGS...: the docker CLI through the context setup made, bounded.
dkc() { timeout 60 docker --context broker "$@"; }

dockerd_start() {
	nsenter --net="/run/netns/$NS" "$DOCKERD" --data-root "$T/docker" --exec-root "$T/x" \
		-H "unix://$SOCK" --pidfile "$T/d.pid" --bridge=none --iptables=false --ip6tables=false \
		>>"$T/dockerd.log" 2>&1 &
	DPID=$!
	record "$DPID"
	wait_until 30 dk version || bail "dockerd did not answer within 30 s: $(tail -n 3 "$T/dockerd.log" | tr '\n' ' ')"
}

# At exit, before the namespace goes: the containers, dockerd, its mounts.
dk_cleanup() {
	if [ -n "$DPID" ] && alive "$DPID"; then
		_ids=$(dk ps -aq 2>/dev/null)
		[ -z "$_ids" ] || dk rm -f $_ids >/dev/null 2>&1
		kill -TERM "$DPID" 2>/dev/null
		wait_exit "$DPID" 30 || { kill -KILL "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; }
	fi
	grep " $T/" /proc/mounts 2>/dev/null | awk '{ print $2 }' | sort -r | while read -r _m; do
		umount -l "$_m" 2>/dev/null
	done
}
GUEST_ON_EXIT=dk_cleanup

guest_netns
dockerd_start
SERVER_VERSION=$(dk version --format '{{.Server.Version}}')
[ -n "$SERVER_VERSION" ] || bail "the private dockerd did not say its version"
pass "private dockerd $SERVER_VERSION runs in namespace $NS"

R="$T/rootfs"
mkdir -p "$R/bin" || bail "rootfs"
cp "$BUSYBOX" "$R/bin/busybox" || bail "copy busybox"
for _a in sh echo; do ln -s busybox "$R/bin/$_a"; done
tar -C "$R" -cf - . | dk import - broker-test/busybox >/dev/null || bail "docker import failed"

guest_brokers --peer-allow-connect "unix://$SOCK" --peer-allow-connect "unix://$T/missing.sock"

# setup NAME ARGS...: brokerctl setup docker on the host; output in $T/NAME.out, status in RC.
setup() {
	_o=$1; shift
	timeout 120 "$BROKERCTL" --runtime-dir "$T/H" setup docker "$@" >"$T/$_o.out" 2>&1
	RC=$?
}
# has FILE TEXT: FILE holds TEXT (fixed string).
has() { grep -qF -- "$2" "$T/$1.out"; }
out() { tr '\n' ' ' <"$T/$1.out"; }
LOCAL="unix://$T/H/docker.sock"

# --- 1. setup -------------------------------------------------------------------
setup s1 --socket "$SOCK"
note "$(cat "$T/s1.out")"
if [ "$RC" = 0 ]; then pass "setup docker --socket $SOCK exits 0"
else fail "setup docker exit $RC: $(out s1)"; fi
check "it names the route: $LOCAL -> peer:unix://$SOCK" \
	has s1 "route docker: $LOCAL -> peer:unix://$SOCK (stored"
check "it created the docker context broker for $LOCAL" has s1 "docker context broker: created (host $LOCAL)"
check "it prints the exact flag the peer needs: --peer-allow-connect unix://$SOCK" \
	has s1 "    --peer-allow-connect unix://$SOCK"
check "it says why (the trust boundary, brokerd(8) SECURITY)" has s1 "(the trust boundary, brokerd(8) SECURITY)"
check "the peer's dockerd answered through the route: Docker Engine $SERVER_VERSION" \
	has s1 "the peer's dockerd answers: Docker Engine $SERVER_VERSION (API "
check "it prints the docker context use broker line" has s1 "    docker context use broker"
if bctl H --json route list | jq -e --arg l "$LOCAL" --arg c "peer:unix://$SOCK" \
	'any(.[]; .name == "docker" and .listen == $l and .connect == $c and .persistent)' >/dev/null; then
	pass "the host's route list has the stored route docker"
else fail "route list: $(bctl H route list)"; fi
check "the context is in DOCKER_CONFIG ($DOCKER_CONFIG), pointing at $LOCAL" \
	sh -c '[ "$(docker context inspect broker --format "{{.Endpoints.docker.Host}}")" = "$1" ] &&
		grep -rqF "$1" "$DOCKER_CONFIG/contexts"' sh "$LOCAL"

# --- 2. the docker CLI through it ------------------------------------------------
V=$(dkc version --format '{{.Server.Version}}' 2>"$T/v.err")
if [ -n "$V" ] && [ "$V" = "$SERVER_VERSION" ]; then
	pass "docker --context broker version: server $V, the private dockerd's"
else fail "docker --context broker version said '$V': $(tr '\n' ' ' <"$T/v.err")"; fi
HI=$(dkc run --rm --network none broker-test/busybox echo hi 2>"$T/run.err")
if [ "$HI" = hi ]; then pass "docker --context broker run --rm broker-test/busybox echo hi printed hi"
else fail "docker run printed '$HI': $(tr '\n' ' ' <"$T/run.err")"; fi
check "the route counted the CLI's connections" \
	sh -c '[ "$("$1" --runtime-dir "$2" --json route list | jq ".[] | select(.name == \"docker\") | .conns_total")" -ge 3 ]' \
	sh "$BROKERCTL" "$T/H"

# --- 3. again: nothing changes ---------------------------------------------------
setup s2 --socket "$SOCK"
if [ "$RC" = 0 ] && has s2 "route docker: already there" && has s2 "docker context broker: already there" &&
	has s2 "the peer's dockerd answers: Docker Engine $SERVER_VERSION"; then
	pass "setup again: exit 0, route and context already there, dockerd answers"
else fail "setup again: exit $RC: $(out s2)"; fi
setup s3 --socket /var/run/other.sock
if [ "$RC" = 1 ] && has s3 "route docker exists as $LOCAL -> peer:unix://$SOCK: remove it first"; then
	pass "setup with another --socket while route docker exists: refused, naming the route"
else fail "setup --socket /var/run/other.sock: exit $RC: $(out s3)"; fi

# --- 4. what the peer does not allow, and a socket nobody serves ----------------------------
setup s4 --name denied --socket "$T/denied.sock"
if [ "$RC" = 1 ] && has s4 "the peer broker refused the stream to unix://$T/denied.sock: start it with --peer-allow-connect unix://$T/denied.sock (brokerd(8) SECURITY)"; then
	pass "a socket the peer does not allow: exit 1, the refusal names --peer-allow-connect unix://$T/denied.sock"
else fail "setup --socket $T/denied.sock: exit $RC: $(out s4)"; fi
check "the guest broker logged the refusal" wait_log G "denied.sock.*refused" 5
setup s5 --name gone --socket "$T/missing.sock"
if [ "$RC" = 1 ] && has s5 "the peer could not connect to unix://$T/missing.sock (is dockerd running there" &&
	! has s5 "refused the stream"; then
	pass "an allowed socket nobody serves: exit 1, 'the peer could not connect', not a refusal"
else fail "setup --socket $T/missing.sock: exit $RC: $(out s5)"; fi
setup s6 --name denied --remove
check "--remove --name denied removes its route and its context" \
	sh -c 'grep -qF "route denied removed" "$1" && grep -qF "docker context broker-denied removed" "$1" &&
		! "$2" --runtime-dir "$3" route list | grep -qw denied && ! docker context inspect broker-denied' \
	sh "$T/s6.out" "$BROKERCTL" "$T/H"
setup s7 --name gone --remove
check "--remove --name gone exits 0" [ "$RC" = 0 ]

# --- 5. a context of that name someone else made ------------------------------------------
docker context create broker-mine --docker host=unix:///nowhere.sock >/dev/null 2>&1 ||
	bail "docker context create broker-mine failed"
setup s8 --name mine --socket "$SOCK"
if [ "$RC" = 1 ] && has s8 "docker context broker-mine exists and points at unix:///nowhere.sock, and brokerctl did not create it: left as it is"; then
	pass "a context setup did not create: exit 1, said so"
else fail "setup --name mine: exit $RC: $(out s8)"; fi
check "... and that context still points where it did" \
	sh -c '[ "$(docker context inspect broker-mine --format "{{.Endpoints.docker.Host}}")" = unix:///nowhere.sock ]'
check "... while the route mine works: the dockerd answered through it" \
	has s8 "the peer's dockerd answers: Docker Engine $SERVER_VERSION"
setup s9 --name mine --remove
if [ "$RC" = 0 ] && has s9 "route mine removed" && has s9 "docker context broker-mine: not created by brokerctl setup docker"; then
	pass "--remove --name mine: route removed, the foreign context left alone"
else fail "--remove --name mine: exit $RC: $(out s9)"; fi
check "... the foreign context is still there" docker context inspect broker-mine

# --- 6. --remove ------------------------------------------------------------------------
docker context use broker >/dev/null 2>&1 || bail "docker context use broker failed"
setup s10 --remove
if [ "$RC" = 0 ] && has s10 "route docker removed" && has s10 "docker context broker removed"; then
	pass "setup docker --remove: exit 0, route and context removed"
else fail "setup docker --remove: exit $RC: $(out s10)"; fi
check "it went back to the default context first (broker was in use)" \
	sh -c 'grep -qF "docker context: back to default" "$1" && [ "$(docker context show)" = default ]' sh "$T/s10.out"
check "the context broker is gone from DOCKER_CONFIG" sh -c '! docker context inspect broker'
check "the host's route list has no route docker" sh -c '! "$1" --runtime-dir "$2" route list | grep -qw docker' \
	sh "$BROKERCTL" "$T/H"
check "the socket $T/H/docker.sock is gone" wait_until 5 test ! -S "$T/H/docker.sock"
if dkc version >"$T/v2.out" 2>&1; then fail "docker --context broker version still works after --remove"
else pass "docker --context broker fails after --remove: $(head -n 1 "$T/v2.out")"; fi
setup s11 --remove
if [ "$RC" = 0 ] && has s11 "route docker: not there"; then pass "--remove again: nothing to do, exit 0"
else fail "--remove again: exit $RC: $(out s11)"; fi

# --- usage ------------------------------------------------------------------------------
setup s12 --socket relative/d.sock
if [ "$RC" = 2 ] && has s12 "--socket 'relative/d.sock' is not an absolute path"; then
	pass "--socket relative/d.sock: usage error (exit 2)"
else fail "--socket relative: exit $RC: $(out s12)"; fi

# --- the link down: stored, and said so (exit 3) ---------------------------------------
bstart L --link-connect "unix://$T/nobody.sock"   # a link that never comes up
timeout 120 "$BROKERCTL" --runtime-dir "$T/L" setup docker --name alone >"$T/s13.out" 2>&1
RC=$?
if [ "$RC" = 3 ] && has s13 "no link to the peer is up yet: the route is stored and reaches the peer's dockerd once it is"; then
	pass "a broker with no link: exit 3, the route stored and it says why the dockerd was not asked"
else fail "setup docker on a broker with no link: exit $RC: $(out s13)"; fi
timeout 120 "$BROKERCTL" --runtime-dir "$T/L" setup docker --name alone --remove >"$T/s14.out" 2>&1 ||
	bail "setup docker --remove on L: $(out s14)"
bstop L

check "guest broker still running" balive G
check "host broker still running" balive H
bstop H
check "host broker exits cleanly" [ "$STOP_RC" = 0 ]
check "no sanitizer report from either broker" sh -c '! grep -q "Sanitizer\|runtime error:" "$1" "$2"' sh "$(blog G)" "$(blog H)"
finish
