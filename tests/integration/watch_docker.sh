#!/bin/sh
# tests/integration/watch_docker.sh - the docker watcher against a real,
# private dockerd.
#
# Topology: a network namespace (the "guest") holds a private dockerd (own
# data-root, exec-root, socket, bridge 172.31.250.1/24) and the guest brokerd
# with --watch docker; the host brokerd runs in the default namespace and
# links to it over a unix socket.  The image is `docker import` of a
# busybox-static rootfs, so nothing is pulled.  Checks:
#   1. docker run -p HOSTPORT:80 httpd -> the host broker listens on
#      127.0.0.1:HOSTPORT and a GET through it returns the container's page;
#      docker stop -> the host port closes.
#   2. -p [::]:PORT:80 -> the host serves [::1]:PORT (skipped without IPv6).
#   3. -p PORT:8125/udp -> the host has a UDP socket on 127.0.0.1:PORT (the
#      data path is not checked: busybox has no UDP server).
#   4. dockerd restarts while the guest broker runs (container with
#      --restart always) -> the mapping comes back and serves again.
# The guest also runs procnet, as the README suggests: it sees
# docker-proxy's listener for each -p port and yields it to the docker
# watcher, so each port is listed once and no conflict shows (case 1).
#
# Needs root, ip netns, nsenter, dockerd + docker (docker.io), iptables and a
# static busybox (busybox-static); skips with the reason otherwise.
# dockerd is started with nsenter --net, not `ip netns exec`: the latter
# remounts /sys, which hides the cgroup mounts dockerd needs.
# POSIX sh (dash).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
. "$(dirname "$0")/guest_lib.sh"
plan 22

[ "$(id -u)" -eq 0 ] || bail "needs root (network namespace, dockerd)"
command -v ip >/dev/null 2>&1 || bail "ip (iproute2) not installed"
command -v nsenter >/dev/null 2>&1 || bail "nsenter (util-linux) not installed"
command -v curl >/dev/null 2>&1 || bail "curl not installed"
DOCKERD=$(command -v dockerd) || bail "dockerd not installed (apt-get install docker.io)"
# Prefer the client that came with this dockerd.
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker) || bail "docker client not installed"
command -v iptables >/dev/null 2>&1 || bail "iptables not installed (dockerd needs it for -p)"
BUSYBOX=
for _b in /bin/busybox /usr/bin/busybox; do
	[ -x "$_b" ] && ! ldd "$_b" >/dev/null 2>&1 && { BUSYBOX=$_b; break; }
done
[ -n "$BUSYBOX" ] || bail "no static busybox (apt-get install busybox-static)"
DOCKER_PLUGIN="$top_builddir/plugins/docker/.libs/docker.so"
[ -e "$DOCKER_PLUGIN" ] || bail "docker plugin not built ($DOCKER_PLUGIN)"

SOCK="$T/d.sock"
DPID=
guest_init docker dk

dk() { "$DOCKER" -H "unix://$SOCK" "$@"; }

dockerd_start() {
	nsenter --net="/run/netns/$NS" "$DOCKERD" --data-root "$T/docker" --exec-root "$T/x" \
		-H "unix://$SOCK" --pidfile "$T/d.pid" --bip 172.31.250.1/24 --iptables=true \
		--ip6tables=false --userland-proxy=true >>"$T/dockerd.log" 2>&1 &
	DPID=$!
	record "$DPID"
	wait_until 30 dk version || bail "dockerd did not answer within 30 s: $(tail -n 3 "$T/dockerd.log" | tr '\n' ' ')"
}

dockerd_stop() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	if ! wait_exit "$DPID" 30; then
		kill -KILL "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	DPID=
}

# At exit, before the namespace goes: the containers, dockerd, its mounts.
dk_cleanup() {
	if [ -n "$DPID" ] && alive "$DPID"; then
		_ids=$(dk ps -aq 2>/dev/null)
		[ -z "$_ids" ] || dk rm -f $_ids >/dev/null 2>&1
		dockerd_stop
	fi
	# whatever dockerd left mounted under $T
	grep " $T/" /proc/mounts 2>/dev/null | awk '{ print $2 }' | sort -r | while read -r _m; do
		umount -l "$_m" 2>/dev/null
	done
}
GUEST_ON_EXIT=dk_cleanup

# --- the guest namespace ------------------------------------------------------
guest_netns

dockerd_start
pass "private dockerd runs in namespace $NS"

# --- the image ------------------------------------------------------------------
R="$T/rootfs"
mkdir -p "$R/bin" "$R/www" || bail "rootfs"
cp "$BUSYBOX" "$R/bin/busybox" || bail "copy busybox"
for _a in sh httpd sleep; do ln -s busybox "$R/bin/$_a"; done
echo "hello from broker-test $$" >"$R/www/index.html"
tar -C "$R" -cf - . | dk import - broker-test/busybox >/dev/null || bail "docker import failed"
pass "image broker-test/busybox imported from a busybox-static rootfs"

# --- brokers ------------------------------------------------------------------
PN_DIR="$top_builddir/plugins/procnet/.libs"
[ -e "$PN_DIR/procnet.so" ] || bail "procnet plugin not built ($PN_DIR/procnet.so)"
guest_brokers --plugin-dir "$top_builddir/plugins/docker/.libs" --plugin-dir "$PN_DIR" \
	--watch "docker,socket=$SOCK" --watch "procnet,interval_ms=200"
wait_log G "\[docker\].*resync" 15 || bail "guest broker logged no docker resync"

page_ok() { curl -s -m 2 "$1" | grep -q "hello from broker-test $$"; }
# url_closed URL: curl cannot connect (exit 7).
url_closed() { curl -s -m 2 -o /dev/null "$1"; [ $? -eq 7 ]; }

# --- 1. IPv4 tcp ------------------------------------------------------------------
P1=$(free_port)
dk run -d --name web -p "$P1:80" broker-test/busybox httpd -f -p 80 -h /www >/dev/null ||
	bail "docker run -p $P1:80 failed"
if wait_until 10 page_ok "http://127.0.0.1:$P1/"; then
	pass "docker run -p $P1:80: the host's 127.0.0.1:$P1 serves the container's page"
else
	fail "host 127.0.0.1:$P1 did not serve the page within 10 s"
fi
check "guest 'mapping list' shows port $P1" mapping_listed G "$P1"
check "host 'mapping list' shows port $P1" mapping_listed H "$P1"
# procnet sees docker-proxy's listener and yields it to the docker watcher.
check "procnet saw docker-proxy's listener on $P1 and yielded it to docker" \
	wait_log G "procnet/tcp/[^ ]*:$P1 tcp port $P1: ignored while docker/[0-9a-f]{12} reports it" 10
# (docker itself reports 0.0.0.0 and [::] for -p PORT: one row per address, both docker's.)
if bctl G --json mapping list | jq -e --argjson p "$P1" '[.[] | select(.host_port == $p)] | length >= 1 and all(.[]; .source == "docker")' >/dev/null; then
	pass "the guest lists port $P1 only from docker, not again from procnet"
else fail "the guest's rows for $P1: $(bctl G mapping list)"; fi
if ! bctl G mapping list | grep -q "conflict"; then pass "no conflict in the guest's mapping list"
else fail "a conflict in the guest's mapping list: $(bctl G mapping list)"; fi
dk stop -t 1 web >/dev/null || fail "docker stop web"
if wait_until 10 url_closed "http://127.0.0.1:$P1/"; then
	pass "docker stop: the host port $P1 closed"
else
	fail "host port $P1 still open 10 s after docker stop"
fi
dk rm web >/dev/null 2>&1

# --- 2. IPv6 tcp ------------------------------------------------------------------
if [ -e /proc/net/if_inet6 ] && ip -6 addr show dev lo 2>/dev/null | grep -q '::1' &&
	ip -n "$NS" -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
	P6=$(free_port --ipv6)
	dk run -d --name web6 -p "[::]:$P6:80" broker-test/busybox httpd -f -p 80 -h /www >/dev/null ||
		bail "docker run -p [::]:$P6:80 failed"
	if wait_until 10 page_ok "http://[::1]:$P6/"; then
		pass "docker run -p [::]:$P6:80: the host's [::1]:$P6 serves the page"
	else
		fail "host [::1]:$P6 did not serve the page within 10 s"
	fi
	dk stop -t 1 web6 >/dev/null
	if wait_until 10 url_closed "http://[::1]:$P6/"; then
		pass "docker stop: the host port [::1]:$P6 closed"
	else
		fail "host port [::1]:$P6 still open 10 s after docker stop"
	fi
	dk rm web6 >/dev/null 2>&1
else
	skip_one "IPv6 binding: no IPv6 loopback here (docker -p [::]:P)"
	skip_one "IPv6 binding closed: no IPv6 loopback here"
fi

# --- 3. udp ---------------------------------------------------------------------------
PU=$(free_port)
udp_bound() { ss -Hlun "sport = :$PU" 2>/dev/null | grep -q "127.0.0.1:$PU"; }
dk run -d --name udp -p "$PU:8125/udp" broker-test/busybox sleep 600 >/dev/null ||
	bail "docker run -p $PU:8125/udp failed"
if wait_until 10 udp_bound; then
	pass "docker run -p $PU:8125/udp: the host has a UDP socket on 127.0.0.1:$PU"
else
	fail "no UDP socket on the host's 127.0.0.1:$PU within 10 s"
fi
check "host 'mapping list' shows udp port $PU" mapping_listed H "$PU"
dk rm -f udp >/dev/null
if wait_until 10 sh -c "! ss -Hlun 'sport = :$PU' | grep -q 127.0.0.1:$PU"; then
	pass "docker rm -f: the host's UDP socket on $PU closed"
else
	fail "UDP socket on $PU still open 10 s after the container went away"
fi
note "udp data path not checked: busybox-static has no UDP server"

# --- 4. dockerd restart -----------------------------------------------------------------
P2=$(free_port)
dk run -d --name keep --restart always -p "$P2:80" broker-test/busybox httpd -f -p 80 -h /www >/dev/null ||
	bail "docker run --restart always failed"
wait_until 10 page_ok "http://127.0.0.1:$P2/" || bail "host 127.0.0.1:$P2 did not serve before the restart"
# Everything the guest log says from here on is about the restart.
mark=$(wc -l <"$(blog G)")
since_mark() { tail -n +"$((mark + 1))" "$(blog G)" | grep -Eq -- "$1"; }
dockerd_stop
# dockerd stops its containers on the way down (their die events reach the
# watcher before the stream closes): the host port closes with them.
if wait_until 15 url_closed "http://127.0.0.1:$P2/"; then
	pass "dockerd stopped: its container went down and the host port $P2 closed"
else
	fail "host port $P2 still open 15 s after dockerd stopped its container"
fi
dockerd_start
if wait_until 30 page_ok "http://127.0.0.1:$P2/"; then
	pass "dockerd restarted: the mapping came back and the host's $P2 serves again"
else
	fail "host 127.0.0.1:$P2 did not serve within 30 s of the dockerd restart"
fi
# After the restart, not the line printed at startup: the stream loss (the
# watcher schedules a reconnect), then a full resync on the new connection.
if since_mark "\[docker\].*reconnecting to " &&
	wait_until 10 since_mark "\[docker\].*(connected to dockerd at .* again; resynced|resync: [0-9]+ containers)"; then
	pass "the watcher saw the stream end and resynced after the restart: $(tail -n +"$((mark + 1))" "$(blog G)" |
		grep -E '\[docker\].*(again; resynced|resync: )' | tail -n 1 | cut -d' ' -f3-)"
else
	fail "no stream loss + resync in the guest log since dockerd stopped: $(tail -n +"$((mark + 1))" "$(blog G)" |
		grep '\[docker\]' | tail -n 5 | cut -d' ' -f3- | tr '\n' ' ')"
fi

check "guest broker still running" balive G
check "host broker still running" balive H
bstop G
check "guest broker (with the docker watcher) exits cleanly" [ "$STOP_RC" = 0 ]
check "no sanitizer report from the guest broker" sanitizer_clean "$(blog G)"
check "no sanitizer report from the host broker" sanitizer_clean "$(blog H)"
finish
