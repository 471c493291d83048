#!/bin/sh
# tests/windows/setup_docker.sh - `brokerctl.exe setup docker` under wine:
# the Windows side of issue 13 part 5.  As in e2e.sh, a Linux brokerd B
# spawns brokerd.exe W over stdio (the way WSL interop does it); B allows its
# peer to open a private dockerd's socket (--peer-allow-connect).  On W:
#   1. setup docker --socket DSOCK: the route npipe:////./pipe/docker_engine
#      -> peer:unix://DSOCK, no context (the pipe is the docker CLI's
#      default), the dockerd's version asked through the pipe by brokerctl.exe;
#      a pipe client's GET /version through docker_engine gets dockerd's answer;
#   2. a pipe another program serves (here a route of W's own holds
#      docker_engine_busy): setup docker --name busy refuses, saying so;
#   3. a socket B does not allow: the refusal names --peer-allow-connect;
#   4. --remove: the route and the pipe are gone.
# Environment: top_builddir (Linux build), WIN_BUILD (cross build), WINEPREFIX
# (a private one when unset).  Anything missing (wine, root, dockerd, the
# builds) is a failure: scripts/test-windows and scripts/bootstrap provide
# them.  POSIX sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/link_lib.sh"
plan 12

: "${WIN_BUILD:=$top_srcdir/build-windows/build}"
WBROKERD="$WIN_BUILD/broker/brokerd.exe"
WBROKERCTL="$WIN_BUILD/ctl/brokerctl.exe"
NPIPE_DIR="$WIN_BUILD/plugins/npipe/.libs"
command -v wine >/dev/null 2>&1 || bail "wine not installed (scripts/test-windows installs it)"
[ -e "$WBROKERD" ] || bail "Windows brokerd.exe not built ($WBROKERD; run scripts/build-windows)"
[ -e "$WBROKERCTL" ] || bail "Windows brokerctl.exe not built ($WBROKERCTL)"
[ -e "$NPIPE_DIR/npipe.dll" ] || bail "npipe.dll not built ($NPIPE_DIR)"
[ "$(id -u)" -eq 0 ] || bail "needs root for the private dockerd"
DOCKERD=$(command -v dockerd) || bail "dockerd not installed (scripts/bootstrap installs docker.io)"
command -v curl >/dev/null 2>&1 || bail "curl not installed (scripts/bootstrap installs it)"

. "$(dirname "$0")/wine_lib.sh"

PIPECLIENT="$WIN_BUILD/tests/windows/pipeclient.exe"
if [ ! -e "$PIPECLIENT" ]; then
	PIPECLIENT="$T/pipeclient.exe"
	x86_64-w64-mingw32-gcc -O2 -o "$PIPECLIENT" "$top_srcdir/tests/windows/pipeclient.c" -ladvapi32 \
		>"$T/cc.log" 2>&1 || bail "cannot build pipeclient.exe: $(head -c 300 "$T/cc.log")"
fi
pc() { timeout 120 wine "$PIPECLIENT" "$@"; }

# --- a private dockerd ---------------------------------------------------------------
DSOCK="$T/docker.sock"
"$DOCKERD" --data-root "$T/docker" --exec-root "$T/x" -H "unix://$DSOCK" --pidfile "$T/d.pid" \
	--bridge=none --iptables=false --ip6tables=false >"$T/dockerd.log" 2>&1 &
DPID=$!
record "$DPID"
dk_version() { curl -sf --unix-socket "$DSOCK" http://d/version >"$T/dv.json"; }
wait_until 30 dk_version || bail "private dockerd did not start: $(tail -n 2 "$T/dockerd.log" | tr '\n' ' ')"
VERSION=$(sed -n 's/.*"Version":"\([^"]*\)".*"ApiVersion".*/\1/p' "$T/dv.json")
API=$(sed -n 's/.*"ApiVersion":"\([^"]*\)".*/\1/p' "$T/dv.json")
[ -n "$VERSION" ] && [ -n "$API" ] || bail "cannot read the private dockerd's version: $(head -c 200 "$T/dv.json")"
pass "private dockerd $VERSION (API $API) answers on $DSOCK"

# --- the Windows broker, spawned by the Linux one over stdio -------------------------
W="$T/W"
mkdir -p "$W"
WRUN="broker-test-sd-$$"
WCMD="wine $WBROKERD --link-stdio --runtime-dir $WRUN --state-dir Z:$W --log-level debug --plugin-dir Z:$NPIPE_DIR"
bstart B --peer-allow-connect "unix://$DSOCK" \
	--link-connect "exec:sh -c 'exec 2>>$T/W.log; $WCMD; true'?env=WINE*"
wait_link_up B 60 || bail "link to the wine broker not up within 60 s: $(tail -n 5 "$T/W.log" | tr '\n' ' ')"
pass "Linux brokerd linked to brokerd.exe under wine; B allows unix://$DSOCK"

# wctl NAME ARGS...: brokerctl.exe against W; output (without CRs) in $T/NAME.out, status in RC.
wctl() {
	_o=$1; shift
	timeout 120 wine "$WBROKERCTL" --runtime-dir "$WRUN" "$@" >"$T/$_o.raw" 2>&1
	RC=$?
	tr -d '\r' <"$T/$_o.raw" >"$T/$_o.out"
}
has() { grep -qF -- "$2" "$T/$1.out"; }
out() { tr '\n' ' ' <"$T/$1.out"; }

# --- 1. setup on the Windows side -------------------------------------------------------------
wctl s1 setup docker --socket "$DSOCK"
note "$(cat "$T/s1.out")"
if [ "$RC" = 0 ] && has s1 "route docker: npipe:////./pipe/docker_engine -> peer:unix://$DSOCK (stored"; then
	pass "setup docker: exit 0, route docker: npipe:////./pipe/docker_engine -> peer:unix://$DSOCK"
else fail "setup docker: exit $RC: $(out s1)"; fi
if has s1 "the peer's dockerd answers: Docker Engine $VERSION (API $API"; then
	pass "brokerctl.exe asked the dockerd through the pipe: Docker Engine $VERSION"
else fail "no version through the pipe: $(out s1)"; fi
if has s1 "the docker CLI uses npipe:////./pipe/docker_engine by default" && ! has s1 "docker context"; then
	pass "no docker context on Windows: the pipe is the CLI's default, and it says so"
else fail "context lines on Windows: $(out s1)"; fi
if pc "//./pipe/docker_engine" get-version >"$T/v.out" 2>"$T/v.err" && grep -q "^HTTP/1.[01] 200" "$T/v.out" &&
	grep -q "\"ApiVersion\":\"$API\"" "$T/v.out"; then
	pass "a pipe client's GET /version on //./pipe/docker_engine gets dockerd's answer (API $API)"
else fail "GET /version over docker_engine: $(head -c 300 "$T/v.out") $(cat "$T/v.err")"; fi

# --- 2. a pipe someone else serves --------------------------------------------------------------
wctl r1 route add holder --listen npipe:////./pipe/docker_engine_busy --connect "peer:unix://$T/nothing.sock"
[ "$RC" = 0 ] || bail "route add holder: $(out r1)"
wctl s2 setup docker --name busy --socket "$DSOCK"
if [ "$RC" = 1 ] && has s2 "another program (Docker Desktop?) already serves npipe:////./pipe/docker_engine_busy; quit it, or give --name NAME"; then
	pass "a pipe another program serves: setup refuses (exit 1) and says so"
else fail "setup --name busy: exit $RC: $(out s2)"; fi

# --- 3. a socket the peer does not allow --------------------------------------------------------
wctl s3 setup docker --name denied --socket "$T/denied.sock"
if [ "$RC" = 1 ] && has s3 "the peer broker refused the stream to unix://$T/denied.sock: start it with --peer-allow-connect unix://$T/denied.sock"; then
	pass "a socket B does not allow: the refusal names --peer-allow-connect unix://$T/denied.sock"
else fail "setup --name denied: exit $RC: $(out s3)"; fi

# --- 4. --remove ---------------------------------------------------------------------------------
wctl s4 setup docker --remove
if [ "$RC" = 0 ] && has s4 "route docker removed"; then pass "setup docker --remove: exit 0, route docker removed"
else fail "--remove: exit $RC: $(out s4)"; fi
wctl l1 route list
if [ "$RC" = 0 ] && ! grep -qw docker "$T/l1.out"; then pass "W's route list has no route docker"
else fail "route list after --remove: exit $RC: $(out l1)"; fi
if pc "//./pipe/docker_engine" get-version >"$T/v2.out" 2>&1; then
	fail "//./pipe/docker_engine still answers after --remove"
else pass "//./pipe/docker_engine is gone after --remove"; fi
check "the Linux broker still runs" balive B
finish
