#!/bin/sh
# tests/integration/watch_containerd.sh - the containerd watcher against a
# real, private containerd.
#
# Topology: a network namespace (the "guest") holds a private containerd
# (own root, state, socket and config with the CRI plugin disabled) and the
# guest brokerd with --watch containerd; the host brokerd runs in the default
# namespace and links to it over a unix socket.  Tasks are started with
# `ctr run --net-host --rootfs DIR` on a busybox-static tree (no image, no
# pull), so they share the guest namespace: a task's httpd on 127.0.0.1:P
# in the guest is what the host's 127.0.0.1:P must reach.  Checks:
#   1. ctr run with a nerdctl/ports label -> the host serves the task's page
#      on 127.0.0.1:P, both brokers list the mapping (owner default/ID);
#      `ctr task kill -s SIGKILL` -> the host port closes, the mapping goes.
#   2. an exec'd process exiting does not remove the mapping.
#   3. `ctr containers label` (a /containers/update) moves the mapping.
#   4. hostile labels (ports 0 and 70000, wrong types, truncated JSON) give
#      logged errors and no mapping; the watcher keeps working.
#   5. containerd restarts while a task runs: the watcher reconnects and
#      resyncs, the mapping stays, and a kill afterwards still removes it.
#   6. the guest broker restarts while a task runs (namespace=all) and the
#      host stays linked: the startup resync reports it; a kill removes it.
#
# Needs root, ip netns, nsenter, containerd + ctr (Debian's containerd),
# runc, curl and a static busybox (busybox-static); bails with the reason
# otherwise.  containerd is started with nsenter --net, not `ip netns exec`
# (which remounts /sys and hides the cgroup mounts runc needs).
# POSIX sh (dash).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 37

[ "$(id -u)" -eq 0 ] || bail "needs root (network namespace, containerd)"
command -v ip >/dev/null 2>&1 || bail "ip (iproute2) not installed"
command -v nsenter >/dev/null 2>&1 || bail "nsenter (util-linux) not installed"
command -v curl >/dev/null 2>&1 || bail "curl not installed"
CONTAINERD=$(command -v containerd) || bail "containerd not installed (apt-get install containerd)"
CTR=$(command -v ctr) || bail "ctr not installed (apt-get install containerd)"
command -v runc >/dev/null 2>&1 || bail "runc not installed (apt-get install runc)"
BUSYBOX=
for _b in /bin/busybox /usr/bin/busybox; do
	[ -x "$_b" ] && ! ldd "$_b" >/dev/null 2>&1 && { BUSYBOX=$_b; break; }
done
[ -n "$BUSYBOX" ] || bail "no static busybox (apt-get install busybox-static)"
CTRD_PLUGIN="$top_builddir/plugins/containerd/.libs/containerd.so"
[ -e "$CTRD_PLUGIN" ] || bail "containerd plugin not built ($CTRD_PLUGIN; needs libnghttp2-dev)"

NS="bt-ctrd-$$"
SOCK="$T/c.sock"
CPID=
TAG=$$

REAL_BROKERD=$BROKERD
GUEST_BROKERD="$T/brokerd-guest"
printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$NS" "$REAL_BROKERD" >"$GUEST_BROKERD"
chmod +x "$GUEST_BROKERD"

c() { "$CTR" -a "$SOCK" -n default "$@"; }

cat >"$T/containerd.toml" <<EOF
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
EOF

containerd_start() {
	nsenter --net="/run/netns/$NS" "$CONTAINERD" --config "$T/containerd.toml" --root "$T/root" \
		--state "$T/state" --address "$SOCK" >>"$T/containerd.log" 2>&1 &
	CPID=$!
	record "$CPID"
	wait_until 30 c version || bail "containerd did not answer within 30 s: $(tail -n 3 "$T/containerd.log" | tr '\n' ' ')"
}

containerd_stop() {
	[ -n "$CPID" ] || return 0
	kill -TERM "$CPID" 2>/dev/null
	if ! wait_exit "$CPID" 20; then
		kill -KILL "$CPID" 2>/dev/null
		wait "$CPID" 2>/dev/null
	fi
	CPID=
}

# Kill and remove every task and container of our containerd.
containers_clear() {
	for _id in $(c tasks ls -q 2>/dev/null); do
		c tasks kill -s SIGKILL "$_id" >/dev/null 2>&1
	done
	for _id in $(c containers ls -q 2>/dev/null); do
		wait_until 5 sh -c "! $CTR -a $SOCK -n default tasks ls -q | grep -qx '$_id'" ||
			c tasks delete -f "$_id" >/dev/null 2>&1
		c tasks delete "$_id" >/dev/null 2>&1
		c containers delete "$_id" >/dev/null 2>&1
	done
}

ctrd_cleanup() {
	_ct_rc=$?
	if [ -n "$CPID" ] && alive "$CPID"; then
		containers_clear
		containerd_stop
	fi
	# shims of our containerd (their command line names our socket) that outlived it
	for _p in $(pgrep -f -- "-address $SOCK" 2>/dev/null); do
		kill -KILL "$_p" 2>/dev/null
	done
	grep " $T/" /proc/mounts 2>/dev/null | awk '{ print $2 }' | sort -r | while read -r _m; do
		umount -l "$_m" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	(exit "$_ct_rc")
	cleanup
}
trap ctrd_cleanup EXIT

# --- the guest namespace and containerd ----------------------------------------
ip netns add "$NS" 2>/dev/null || bail "cannot create a network namespace (ip netns add)"
ip -n "$NS" link set lo up || bail "lo up in $NS"
containerd_start
pass "private containerd runs in namespace $NS"

R="$T/rootfs"
mkdir -p "$R/bin" "$R/www" "$R/proc" "$R/dev" "$R/sys" "$R/etc" "$R/tmp" || bail "rootfs"
cp "$BUSYBOX" "$R/bin/busybox" || bail "copy busybox"
for _a in sh httpd sleep true; do ln -s busybox "$R/bin/$_a"; done
echo "hello from broker-test $$" >"$R/www/index.html"

# run ID LABEL CMD...: start a task on the busybox tree in the guest namespace.
run() {
	_id=$1; _label=$2; shift 2
	c run -d --net-host --label "nerdctl/ports=$_label" --label "nerdctl/name=$_id" --rootfs "$R" "$_id" "$@" \
		>>"$T/ctr.log" 2>&1
}
ports() { printf '[{"HostPort":%s,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}]' "$1"; }

# Can tasks run here at all (runc, cgroups)?
if ! c run -d --net-host --rootfs "$R" "probe-$TAG" /bin/sleep 30 >>"$T/ctr.log" 2>&1 ||
	! wait_until 5 sh -c "$CTR -a $SOCK -n default tasks ls | grep -q 'probe-$TAG.*RUNNING'"; then
	bail "containerd cannot run a task here: $(tail -n 2 "$T/ctr.log" | tr '\n' ' ')"
fi
containers_clear

# --- brokers ------------------------------------------------------------------
BROKERD=$GUEST_BROKERD
bstart G --link-listen "unix://$T/link.sock" --plugin-dir "$top_builddir/plugins/containerd/.libs" \
	--watch "containerd,socket=$SOCK,namespace=default"
BROKERD=$REAL_BROKERD
bstart H --link-connect "unix://$T/link.sock"
wait_link_up H 15 || bail "link between the brokers did not come up"
wait_log G "\[containerd\].*resync" 15 || bail "guest broker logged no containerd resync"

page_ok() { curl -s -m 2 "$1" | grep -q "hello from broker-test $$"; }
port_closed() { curl -s -m 2 -o /dev/null "$1"; [ $? -eq 7 ]; }
mapping_listed() { bctl "$1" mapping list --json 2>/dev/null | grep -q "\"host_port\": *$2\b"; }
mapping_gone() { bctl "$1" mapping list --json >"$T/ml.json" 2>&1 && ! grep -q "\"host_port\": *$2\b" "$T/ml.json"; }
owner_listed() { bctl "$1" mapping list --json 2>/dev/null | grep -q "\"owner\": *\"$2\""; }

# --- 1. start and kill ------------------------------------------------------------
P1=$(free_port)
run "web-$TAG" "$(ports "$P1")" /bin/httpd -f -p "127.0.0.1:$P1" -h /www || bail "ctr run web-$TAG failed"
if wait_until 10 page_ok "http://127.0.0.1:$P1/"; then
	pass "ctr run with nerdctl/ports $P1: the host's 127.0.0.1:$P1 serves the task's page"
else
	fail "host 127.0.0.1:$P1 did not serve the page within 10 s"
fi
check "guest 'mapping list' shows port $P1" mapping_listed G "$P1"
check "host 'mapping list' shows port $P1" mapping_listed H "$P1"
check "the owner is default/web-$TAG" owner_listed G "default/web-$TAG"
c tasks kill -s SIGKILL "web-$TAG" >/dev/null || bail "ctr task kill web-$TAG"
if wait_until 10 port_closed "http://127.0.0.1:$P1/"; then
	pass "ctr task kill: the host port $P1 closed"
else
	fail "host port $P1 still open 10 s after the task was killed"
fi
check "ctr task kill: the guest no longer lists $P1" wait_until 5 mapping_gone G "$P1"
check "the exit was confirmed with Tasks.Get" log_has G "\[containerd\].*task default/web-$TAG (exited|is gone)"
c tasks delete "web-$TAG" >/dev/null 2>&1
c containers delete "web-$TAG" >/dev/null 2>&1

# --- 2. an exec'd process exits --------------------------------------------------
# keep serves on P2 and P3: labelled with P2 now, relabelled with P3 in step 3
P2=$(free_port)
P3=$(free_port)
[ "$P3" != "$P2" ] || P3=$(free_port)
run "keep-$TAG" "$(ports "$P2")" /bin/sh -c \
	"httpd -p 127.0.0.1:$P2 -h /www; exec httpd -f -p 127.0.0.1:$P3 -h /www" || bail "ctr run keep-$TAG failed"
wait_until 10 page_ok "http://127.0.0.1:$P2/" || bail "host 127.0.0.1:$P2 did not serve within 10 s"
# The exec must really run and its exit reach the watcher (the TaskExit
# event, "event 2 default/keep-..." in the guest's debug log), or "keeps the
# mapping" tests nothing.
mark=$(wc -l <"$(blog G)")
c tasks exec --exec-id "x$TAG" "keep-$TAG" /bin/true >"$T/exec.out" 2>&1 ||
	bail "ctr tasks exec in keep-$TAG failed: $(head -c 300 "$T/exec.out")"
exit_seen() { tail -n +"$((mark + 1))" "$(blog G)" | grep -q "\[containerd\].*event 2 default/keep-$TAG\$"; }
check "the exec'd process's exit reached the watcher (TaskExit for keep-$TAG)" wait_until 10 exit_seen
# Kept, not only there once more: both lists have it on every look for 3 s
# after the exit reached the watcher (a removal takes a moment to reach the
# host, so one look right after the event proves nothing).
# stays_listed PORT: both lists have PORT on every look for 3 s.
stays_listed() {
	_sd=$(($(date +%s) + 3))
	while [ "$(date +%s)" -lt "$_sd" ]; do
		mapping_listed G "$1" || { echo "guest lost $1"; return 1; }
		mapping_listed H "$1" || { echo "host lost $1"; return 1; }
		sleep 0.3
	done
}
check "an exec'd process exiting keeps the mapping (both lists have $P2 for 3 s)" stays_listed "$P2"
check "an exec'd process exiting keeps the mapping ($P2 still serves)" wait_until 5 page_ok "http://127.0.0.1:$P2/"

# --- 3. /containers/update --------------------------------------------------------
check "before the update the host does not serve $P3" port_closed "http://127.0.0.1:$P3/"
c containers label "keep-$TAG" "nerdctl/ports=$(ports "$P3")" >/dev/null || bail "ctr containers label"
check "label update: the guest lists $P3" wait_until 10 mapping_listed G "$P3"
check "label update: $P2 went away" wait_until 10 mapping_gone G "$P2"
check "label update: the host lists $P3" wait_until 10 mapping_listed H "$P3"
check "label update: the host serves $P3" wait_until 10 page_ok "http://127.0.0.1:$P3/"

# --- 4. hostile labels -------------------------------------------------------------
run "bad1-$TAG" '[{"HostPort":0,"ContainerPort":80},{"HostPort":70000,"ContainerPort":80},{"HostPort":"8080"}]' \
	/bin/sleep 600 || bail "ctr run bad1 failed"
run "bad2-$TAG" '[{"HostPort":8080,"ContainerPort":80' /bin/sleep 600 || bail "ctr run bad2 failed"
check "hostile labels: the guest log names bad1's port that is not an integer" \
	wait_log G "\[containerd\].*bad1-$TAG.*HostPort is not an integer" 10
check "hostile labels: the guest log says bad2's label is not valid JSON" \
	wait_log G "\[containerd\].*bad2-$TAG.*not valid JSON" 10
check "hostile labels: no mapping for bad1" sh -c "! $BROKERCTL --runtime-dir $T/G mapping list --json | grep -q bad1-$TAG"
check "hostile labels: no mapping for bad2" sh -c "! $BROKERCTL --runtime-dir $T/G mapping list --json | grep -q bad2-$TAG"
check "hostile labels: nothing on port 8080" mapping_gone G 8080
check "the watcher still serves $P3" page_ok "http://127.0.0.1:$P3/"

# --- 5. containerd restart ---------------------------------------------------------
# Only what the guest log says from here on counts (a reconnect logged
# earlier must not pass for this one).
mark=$(wc -l <"$(blog G)")
since_mark() { tail -n +"$((mark + 1))" "$(blog G)" | grep -Eq -- "$1"; }
containerd_stop
# (tasks keep running under their shims)
if wait_until 10 since_mark "\[containerd\].*containerd at $SOCK: "; then
	pass "containerd stopped: the watcher saw its connection end ($(tail -n +"$((mark + 1))" "$(blog G)" |
		grep -E "\[containerd\].*containerd at $SOCK: " | head -n 1 | cut -d' ' -f3- | cut -c1-200))"
else
	fail "containerd stopped: no 'containerd at $SOCK: ...' line in the guest log within 10 s"
fi
containerd_start
if wait_until 20 since_mark "\[containerd\].*connected to containerd at .* again; resynced"; then
	pass "containerd restarted: the watcher reconnected and resynced"
else
	fail "no reconnect + resync within 20 s of the containerd restart: $(tail -n +"$((mark + 1))" "$(blog G)" |
		grep '\[containerd\]' | tail -n 5 | cut -d' ' -f3- | tr '\n' ' ' | cut -c1-600)"
fi
# Kept through the resync: on every look for 3 s, not one look right after it.
check "after the restart both lists keep $P3 (3 s)" stays_listed "$P3"
check "after the restart $P3 still serves" wait_until 5 page_ok "http://127.0.0.1:$P3/"
# The kill's TaskExit must come through the new event stream (not only the
# port closing, which a lost mapping would give too).
mark=$(wc -l <"$(blog G)")
c tasks kill -s SIGKILL "keep-$TAG" >"$T/kill.out" 2>&1 || bail "ctr task kill keep-$TAG: $(cat "$T/kill.out")"
if wait_until 10 port_closed "http://127.0.0.1:$P3/" &&
	wait_until 10 since_mark "\[containerd\].*event 2 default/keep-$TAG\$"; then
	pass "events flow again after the restart: the kill's TaskExit arrived and closed host port $P3"
else
	fail "after the containerd restart, the kill: host port $P3 $(port_closed "http://127.0.0.1:$P3/" && echo closed || echo 'still open'), TaskExit $(since_mark "event 2 default/keep-$TAG\$" && echo seen || echo 'not seen') within 10 s"
fi

# --- 6. guest broker restart with a running task ----------------------------------
P4=$(free_port)
run "late-$TAG" "$(ports "$P4")" /bin/httpd -f -p "127.0.0.1:$P4" -h /www || bail "ctr run late-$TAG failed"
wait_until 10 page_ok "http://127.0.0.1:$P4/" || bail "host 127.0.0.1:$P4 did not serve within 10 s"
# Only the guest broker restarts; the host stays up and re-links.
bstop G
check "guest broker (with the containerd watcher) exits cleanly" [ "$STOP_RC" = 0 ]
BROKERD=$GUEST_BROKERD
bstart G --link-listen "unix://$T/link.sock" --plugin-dir "$top_builddir/plugins/containerd/.libs" \
	--watch "containerd,socket=$SOCK,namespace=all"
BROKERD=$REAL_BROKERD
wait_link_up H 15 || bail "the host did not re-link to the restarted guest within 15 s"
if wait_until 20 page_ok "http://127.0.0.1:$P4/"; then
	pass "guest broker restarted (namespace=all): the resync reports the running task, $P4 serves"
else
	fail "host 127.0.0.1:$P4 did not serve within 20 s of the guest broker restart"
fi
check "namespace=all lists the owner default/late-$TAG" owner_listed G "default/late-$TAG"
c tasks kill -s SIGKILL "late-$TAG" >/dev/null
check "namespace=all: the kill removes $P4" wait_until 10 mapping_gone G "$P4"

check "guest broker still running" balive G
check "host broker still running" balive H
bstop G
check "guest broker exits cleanly" [ "$STOP_RC" = 0 ]
check "no sanitizer report from the guest broker" sanitizer_clean "$(blog G)"
check "no sanitizer report from the host broker" sanitizer_clean "$(blog H)"
bstop H
check "host broker exits cleanly" [ "$STOP_RC" = 0 ]
finish
