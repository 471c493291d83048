#!/bin/sh
# tests/windows/hvsock.sh - the hvsock plugin: listen on hvsock://loopback:PORT
# and connect to it through the same DLL.  Where AF_HYPERV does not exist
# (wine, old Windows) the plugin says "Hyper-V sockets are not available here
# (AF_HYPERV)" and this test skips with that reason (an expected skip for
# wine:tests/windows/hvsock.sh in tests/expected-skips).  TAP, 2 results.
# Environment: WIN_BUILD (the cross build), WINEPREFIX (private one when unset).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${WIN_BUILD:=$top_srcdir/build-windows}"
DLL="$WIN_BUILD/plugins/hvsock/.libs/hvsock.dll"
PROBE="$WIN_BUILD/tests/windows/plugin_probe.exe"
echo "1..2"
bail() { echo "not ok 1 - $*"; exit 1; }
command -v wine >/dev/null 2>&1 || bail "wine not installed"
[ -e "$DLL" ] || bail "hvsock.dll not built ($DLL)"
[ -e "$PROBE" ] || bail "plugin_probe.exe not built ($PROBE)"
T=$(mktemp -d)
export WINEDEBUG=-all
if [ -z "${WINEPREFIX:-}" ]; then WINEPREFIX="$T/wine"; OWN=1; fi
export WINEPREFIX
trap 'rc=$?; [ -n "${OWN:-}" ] && wineserver -k 2>/dev/null; rm -rf "$T"; exit $rc' EXIT

out=$(timeout 120 wine "$PROBE" "$DLL" listen hvsock://loopback:5000 2>"$T/err" | tr -d '\r')
case $out in
*"not available here (AF_HYPERV)"*)
	echo "# $out"
	echo "ok 1 # SKIP Hyper-V sockets are not available here (AF_HYPERV); run on Windows 10+/Server 2016+"
	echo "ok 2 # SKIP Hyper-V sockets are not available here (AF_HYPERV); run on Windows 10+/Server 2016+"
	exit 0 ;;
"listen ok"*) echo "ok 1 - $out" ;;
*) echo "not ok 1 - listen: $out $(tr '\n' ' ' <"$T/err")"; exit 1 ;;
esac
# Bad addresses are refused with a reason before any socket is made.
out=$(timeout 60 wine "$PROBE" "$DLL" listen hvsock://notaguid:5000 | tr -d '\r')
case $out in *"bad VM id"*) echo "ok 2 - $out" ;; *) echo "not ok 2 - bad VM id accepted: $out"; exit 1 ;; esac
