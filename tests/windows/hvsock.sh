#!/bin/sh
# tests/windows/hvsock.sh - the hvsock plugin: listen on hvsock://loopback:PORT
# and connect to it through the same DLL.  Where AF_HYPERV does not exist
# (wine, old Windows) the plugin says "Hyper-V sockets are not available here
# (AF_HYPERV)" and this test skips with that reason.
# Environment: WIN_BUILD (the cross build), WINEPREFIX (private one when unset).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${WIN_BUILD:=$top_srcdir/build-windows}"
DLL="$WIN_BUILD/plugins/hvsock/.libs/hvsock.dll"
PROBE="$WIN_BUILD/tests/windows/plugin_probe.exe"
command -v wine >/dev/null 2>&1 || { echo "SKIP: hvsock: wine not installed"; exit 77; }
[ -e "$DLL" ] || { echo "SKIP: hvsock: hvsock.dll not built ($DLL)"; exit 77; }
[ -e "$PROBE" ] || { echo "SKIP: hvsock: plugin_probe.exe not built ($PROBE)"; exit 77; }
T=$(mktemp -d)
export WINEDEBUG=-all
if [ -z "${WINEPREFIX:-}" ]; then WINEPREFIX="$T/wine"; OWN=1; fi
export WINEPREFIX
trap '[ -n "${OWN:-}" ] && wineserver -k 2>/dev/null; rm -rf "$T"' EXIT

out=$(timeout 120 wine "$PROBE" "$DLL" listen hvsock://loopback:5000 2>"$T/err" | tr -d '\r')
case $out in
*"not available here (AF_HYPERV)"*)
	echo "# $out"
	echo "SKIP: hvsock: Hyper-V sockets are not available here (AF_HYPERV); run on Windows 10+/Server 2016+"
	exit 77 ;;
"listen ok"*) echo "ok 1 - $out" ;;
*) echo "not ok 1 - listen: $out $(cat "$T/err")"; exit 1 ;;
esac
# Bad addresses are refused with a reason before any socket is made.
out=$(timeout 60 wine "$PROBE" "$DLL" listen hvsock://notaguid:5000 | tr -d '\r')
case $out in *"bad VM id"*) echo "ok 2 - $out" ;; *) echo "not ok 2 - bad VM id accepted: $out"; exit 1 ;; esac
echo "1..2"
