# tests/integration/guest_lib.sh - a "guest" network namespace with its own
# brokerd, linked over a unix socket to a "host" brokerd in the default
# namespace: the setup the watcher tests (watch_procnet, watch_iptables,
# watch_kubernetes, watch_docker) share.  Sourced after lib.sh and
# link_lib.sh:
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/link_lib.sh"
#   . "$(dirname "$0")/guest_lib.sh"
#   guest_init procnet pn       # names, the guest brokerd wrapper, EXIT trap
#   guest_netns                 # namespace + veth in a /24 no other run uses:
#                               #   $GUEST_NET.1 host side, $GUEST_IP (.2) guest
#   guest_brokers --plugin-dir DIR --watch procnet   # G (guest) <- H (host)
# Needs root, ip and nsenter (scripts/bootstrap installs them).
# Parallel runs of the same test (other worktrees, CI) are safe: names carry
# the pid and each run takes its own subnet (guest_netns).
# POSIX sh (dash).

GUEST_ON_EXIT=

# guest_init NAME TAG: NS=bt-NAME-PID, veth pair VH=btTAGPIDh (host side) /
# VG=btTAGPIDg (guest side); $GUEST_BROKERD runs brokerd inside the
# namespace, $REAL_BROKERD outside.  The EXIT trap runs $GUEST_ON_EXIT (a
# command the test may set, for what it started in the namespace), removes
# the veth and the namespace, then does lib.sh's cleanup.
guest_init() {
	NS="bt-$1-$$"
	VH="bt$2$$h"
	VG="bt$2$$g"
	REAL_BROKERD=$BROKERD
	GUEST_BROKERD="$T/brokerd-guest"
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$NS" "$REAL_BROKERD" >"$GUEST_BROKERD"
	chmod +x "$GUEST_BROKERD"
	at_exit guest_teardown
}

# At exit (lib.sh's cleanup keeps the exit status): what the test started in
# the namespace, then the veth and the namespace.
guest_teardown() {
	[ -z "$GUEST_ON_EXIT" ] || $GUEST_ON_EXIT
	ip link del "$VH" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	return 0
}

# guest_subnet_free NET: no address of the root namespace is in NET.0/24
# and no route covers it.
guest_subnet_free() {
	! ip -4 -o addr show 2>/dev/null | grep -q " inet $1\." &&
		[ -z "$(ip -4 route show "$1.0/24" 2>/dev/null)" ]
}

# guest_netns: create the namespace with lo up and a veth pair in a /24 of
# 10.214.0.0/16 that no other run uses: GUEST_NET.1/24 on the host side,
# GUEST_NET.2/24 (GUEST_IP) inside.  The subnet is chosen and its host
# address added under a lock, so two runs never take the same one (a fixed
# subnet made parallel runs share the root namespace's address and route).
guest_netns() {
	ip netns add "$NS" 2>/dev/null || bail "cannot create a network namespace (ip netns add $NS)"
	ip -n "$NS" link set lo up || bail "lo up in $NS"
	ip link add "$VH" type veth peer name "$VG" || bail "veth pair"
	ip link set "$VG" netns "$NS" || bail "veth into $NS"
	GUEST_NET=$(
		exec 9>"${TMPDIR:-/tmp}/broker-test-subnets.lock"
		flock -w 30 9 || exit 1
		_i=0
		while [ "$_i" -lt 254 ]; do
			_net="10.214.$(( ($$ + _i) % 254 + 1 ))"
			if guest_subnet_free "$_net"; then
				ip addr add "$_net.1/24" dev "$VH" || exit 1
				echo "$_net"
				exit 0
			fi
			_i=$((_i + 1))
		done
		exit 1
	) || bail "no free /24 in 10.214.0.0/16 for the guest veth (or ip addr add failed)"
	ip link set "$VH" up || bail "host veth up"
	GUEST_IP="$GUEST_NET.2"
	ip -n "$NS" addr add "$GUEST_IP/24" dev "$VG" && ip -n "$NS" link set "$VG" up || bail "guest veth"
	note "guest namespace $NS: host $GUEST_NET.1, guest $GUEST_IP"
}

# in_ns CMD...: run CMD in the guest namespace.
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }

# guest_brokers ARGS...: broker G in the guest (--link-listen on $T/link.sock,
# plus ARGS), broker H on the host dialing it; waits until the link is up.
guest_brokers() {
	BROKERD=$GUEST_BROKERD
	bstart G --link-listen "unix://$T/link.sock" "$@"
	BROKERD=$REAL_BROKERD
	bstart H --link-connect "unix://$T/link.sock"
	wait_link_up H 15 || bail "link between the brokers did not come up"
}

# mapping_listed NAME PORT: broker NAME's mapping list has host port PORT
# (jq: scripts/bootstrap installs it).
mapping_listed() {
	bctl "$1" mapping list --json 2>/dev/null | jq -e --argjson p "$2" 'any(.[]; .host_port == $p)' >/dev/null
}
# mapping_gone NAME PORT: the list answers and does not have PORT.
mapping_gone() {
	bctl "$1" mapping list --json 2>/dev/null | jq -e --argjson p "$2" 'all(.[]; .host_port != $p)' >/dev/null
}
# owner_listed NAME OWNER: broker NAME's mapping list has OWNER.
owner_listed() {
	bctl "$1" mapping list --json 2>/dev/null | jq -e --arg o "$2" 'any(.[]; .owner == $o)' >/dev/null
}
# echo_ok PORT: the host's 127.0.0.1:PORT echoes 4 KiB.
echo_ok() { "$XFER" send "tcp:127.0.0.1:$1" 4096 --expect echo --timeout 3 --io-timeout 3; }
# port_closed PORT: nothing listens on PORT in the default namespace (the host side).
port_closed() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
