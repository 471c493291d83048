#!/bin/sh
# tests/windows/e2e.sh - Windows broker under wine, linked to a Linux broker
# the way WSL interop does it, relaying named pipes to a real private dockerd.
#
#   Linux brokerd B --link-connect "exec:sh -c 'wine brokerd.exe --link-stdio ...'"
#   routes defined on B with listen=peer: the Windows broker listens on
#   npipe:////./pipe/broker-test-* and relays into B's unix sockets:
#     docker  -> a private dockerd (real /version JSON)
#     echo    -> xfer serve-echo (64 MiB each way, crc64 both ways)
#     later   -> xfer serve-delayed-reply 2 s (half-close by a zero-byte message)
#     sddl    -> ?sddl=service-system-admin / current-user, read back with GetSecurityInfo
#   then: SIGKILL B -> the wine brokerd.exe sees its stdin close and exits;
#   and the reverse: kill the wine process -> B sees the link go down.
#
# Environment:
#   top_builddir  the Linux build (brokerd, brokerctl, tests/tools/xfer)
#   WIN_BUILD     the cross build (broker/brokerd.exe, plugins/*/.libs/*.dll,
#                 tests/windows/pipeclient.exe; built here if missing)
#   WINEPREFIX    a private prefix is made when unset
# TAP (11 results, one of them the expected skip of DACL enforcement, which
# wine does not do).  Anything missing (wine, the builds, root, dockerd,
# curl) is a failure: scripts/test-windows and scripts/bootstrap provide
# them.  POSIX sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/link_lib.sh"
plan 11

: "${WIN_BUILD:=$top_srcdir/build-windows}"
WBROKERD="$WIN_BUILD/broker/brokerd.exe"
command -v wine >/dev/null 2>&1 || bail "wine not installed (scripts/test-windows installs it)"
[ -x "$BROKERD" ] || bail "Linux brokerd not built ($BROKERD)"
[ -e "$WBROKERD" ] || bail "Windows brokerd.exe not built ($WBROKERD; run scripts/build-windows)"
NPIPE_DIR="$WIN_BUILD/plugins/npipe/.libs"
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

timeout 120 wine "$PIPECLIENT" - usersid >"$T/sid" 2>"$T/sid.err" ||
	bail "wine cannot run a Windows program here: $(head -c 200 "$T/sid.err")"
USER_SID=$(tr -d '\r' <"$T/sid")

# --- a private dockerd ---------------------------------------------------------------
DSOCK="$T/docker.sock"
"$DOCKERD" --data-root "$T/docker" --exec-root "$T/x" -H "unix://$DSOCK" --pidfile "$T/d.pid" \
	--bridge=none --iptables=false --ip6tables=false >"$T/dockerd.log" 2>&1 &
DPID=$!
record "$DPID"
dk_version() { curl -sf --unix-socket "$DSOCK" http://d/version >"$T/dv.json"; }
if ! wait_until 30 dk_version; then
	bail "private dockerd did not start: $(tail -n 2 "$T/dockerd.log" | tr '\n' ' ')"
fi
pass "private dockerd answers on $DSOCK"

serve echo echo "unix:$T/echo.sock"
serve later delayed-reply "unix:$T/later.sock" 2

# --- the Windows broker, spawned by the Linux one over stdio -------------------------
# sh stays the parent of wine, so SIGKILL of B (PDEATHSIG) kills only sh and
# the wine broker has to notice its stdin closing by itself.
W="$T/W"
mkdir -p "$W"
WCMD="wine $WBROKERD --link-stdio --runtime-dir broker-test-$$ --state-dir Z:$W --log-level debug --plugin-dir Z:$NPIPE_DIR"
# exec children get a minimal environment: wine needs its prefix and debug settings.
bstart B --link-connect "exec:sh -c 'exec 2>>$T/W.log; $WCMD; true'?env=WINE*"
wait_link_up B 60 || bail "link to the wine broker not up within 60 s: $(tail -n 5 "$T/W.log" | tr '\n' ' ')"
pass "Linux brokerd linked to brokerd.exe under wine (exec: + --link-stdio)"

P=broker-test-$$
broute B wdocker "peer:npipe:////./pipe/$P-docker" "unix://$DSOCK"
broute B wecho "peer:npipe:////./pipe/$P-echo" "unix://$T/echo.sock"
broute B wlater "peer:npipe:////./pipe/$P-later" "unix://$T/later.sock"
broute B wsdd "peer:npipe:////./pipe/$P-ssa?sddl=service-system-admin" "unix://$T/echo.sock"
pipe_up() { pc "$1" sddl >/dev/null 2>&1; }
wait_until 30 pipe_up "$P-docker" || bail "the wine broker never listened on //./pipe/$P-docker"

# 1. Docker's /version through the pipe
if pc "//./pipe/$P-docker" get-version >"$T/v.out" 2>"$T/v.err" &&
	grep -q "^HTTP/1.[01] 200" "$T/v.out" && grep -q '"ApiVersion"' "$T/v.out"; then
	want=$(sed -n 's/.*"ApiVersion":"\([^"]*\)".*/\1/p' "$T/dv.json")
	if grep -q "\"ApiVersion\":\"$want\"" "$T/v.out"; then
		pass "GET /version over //./pipe/$P-docker returns dockerd's answer (ApiVersion $want)"
	else fail "GET /version: ApiVersion differs from dockerd's ($want): $(tail -c 300 "$T/v.out")"; fi
else fail "GET /version over the pipe: $(head -c 300 "$T/v.out") $(cat "$T/v.err")"; fi

# 2. 64 MiB each way
if pc "//./pipe/$P-echo" send 64M --expect echo >"$T/e.out" 2>&1; then
	pass "64 MiB each way through the pipe, checksums match: $(cat "$T/e.out" | tr -d '\r')"
else fail "64 MiB echo: $(cat "$T/e.out")"; fi

# 3. half-close by a zero-byte message; the reply comes 2 s after EOF
t0=$(date +%s)
if pc "//./pipe/$P-later" send 1M --seed 3 --expect echo >"$T/h.out" 2>&1; then
	t1=$(date +%s)
	if [ $((t1 - t0)) -ge 2 ]; then
		pass "half-close (zero-byte message) reaches the server; its reply 2 s later arrives whole"
	else fail "delayed reply came back in under 2 s ($((t1 - t0)) s): the server cannot have waited"; fi
else fail "half-close with delayed reply: $(cat "$T/h.out")"; fi

# 4. security descriptors read back
canon() { pc - canon "$1" | tr -d '\r'; }
got=$(pc "$P-docker" sddl 2>&1 | tr -d '\r')
want=$(canon "D:P(A;;GA;;;$USER_SID)(A;;GA;;;SY)")
if [ -n "$want" ] && [ "$got" = "$want" ]; then
	pass "default sddl=current-user applied: $got"
else fail "current-user SDDL read back '$got', expected '$want'"; fi
got=$(pc "$P-ssa" sddl 2>&1 | tr -d '\r')
want=$(canon "D:(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;LA)(A;ID;FA;;;LS)")
if [ -n "$want" ] && [ "$got" = "$want" ]; then
	pass "sddl=service-system-admin applied: $got"
else fail "service-system-admin SDDL read back '$got', expected '$want'"; fi
skip_one "wine does not enforce pipe DACLs: access denied to another user needs real Windows"

# 5. a burst as large as the instance pool never sees ERROR_PIPE_BUSY
if pc "$P-echo" burst 4 --no-retry >"$T/b.out" 2>&1; then
	pass "burst of 4 simultaneous clients: $(tr -d '\r' <"$T/b.out")"
else fail "burst: $(cat "$T/b.out")"; fi

# --- kill -9 the Linux broker: the wine broker must exit on its own ------------------
wine_pid() {
	for _d in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$_d/cmdline" | grep -q "brokerd.exe --link-stdio --runtime-dir broker-test-$$" &&
			{ echo "${_d#/proc/}"; return 0; }
	done
	return 1
}
WPID=$(wine_pid) || bail "cannot find the wine brokerd.exe process"
record "$WPID"
bkill9 B
gone() { ! kill -0 "$WPID" 2>/dev/null; }
if wait_until 20 gone; then
	pass "after SIGKILL of the Linux broker, brokerd.exe (pid $WPID) exited by itself"
else
	fail "brokerd.exe (pid $WPID) still runs 20 s after the Linux broker died"
	kill -KILL "$WPID" 2>/dev/null
fi

# --- the reverse: kill the wine broker, the Linux broker sees the link down ----------
bstart B2 --link-connect "exec:sh -c 'exec 2>>$T/W2.log; $WCMD; true'?env=WINE*"
wait_link_up B2 60 || bail "second link not up: $(tail -n 5 "$T/W2.log" | tr '\n' ' ')"
WPID=$(wine_pid) || bail "cannot find the second wine brokerd.exe"
record "$WPID"
kill -KILL "$WPID"
link_not_up() { ! link_up B2 connect; }
if wait_until 20 link_not_up; then
	pass "after SIGKILL of brokerd.exe the Linux broker sees the link down"
else fail "the Linux broker still reports the link up 20 s after brokerd.exe died"; fi
bstop B2
finish
