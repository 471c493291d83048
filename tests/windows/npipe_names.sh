#!/bin/sh
# tests/windows/npipe_names.sh - the npipe plugin's pipe names and its
# "everyone" security descriptor (issue 9, case 8): a name with "..", ":",
# "\" or "/" is refused before any pipe is made, a plain name listens, and
# ?sddl=everyone gives everyone read and write but not
# FILE_CREATE_PIPE_INSTANCE (0x12019b), keeping full control for us and
# SYSTEM.  (Wine does not enforce DACLs, so the descriptor is checked as
# written, from the plugin's log line.)  TAP, 6 results.
# Environment: WIN_BUILD (the cross build), WINEPREFIX (private one when unset).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${WIN_BUILD:=$top_srcdir/build-windows}"
DLL="$WIN_BUILD/plugins/npipe/.libs/npipe.dll"
PROBE="$WIN_BUILD/tests/windows/plugin_probe.exe"
echo "1..6"
. "$(dirname "$0")/tap_lib.sh"
command -v wine >/dev/null 2>&1 || bail "wine not installed"
[ -e "$DLL" ] || bail "npipe.dll not built ($DLL)"
[ -e "$PROBE" ] || bail "plugin_probe.exe not built ($PROBE)"
T=$(mktemp -d)
export WINEDEBUG=-all
if [ -z "${WINEPREFIX:-}" ]; then WINEPREFIX="$T/wine"; OWN=1; fi
export WINEPREFIX
trap 'rc=$?; [ -n "${OWN:-}" ] && wineserver -k 2>/dev/null; rm -rf "$T"; exit $rc' EXIT

probe() { timeout 120 wine "$PROBE" "$DLL" listen "$1" 2>"$T/err" | tr -d '\r'; }

for bad in 'a..b' 'c:d' 'e/f'; do
	out=$(probe "npipe:////./pipe/broker-test-$$-$bad")
	case $out in
	*"listen error: pipe name"*"may not contain"*) ok "'$bad' refused: ${out#listen error: }" ;;
	*) notok "a pipe name with '$bad' was not refused: $out" ;;
	esac
done
out=$(probe "npipe:////./pipe/broker-test-$$-plain")
case $out in "listen ok"*) ok "a plain name listens: $out" ;; *) notok "plain name: $out $(tr '\n' ' ' <"$T/err")" ;; esac
out=$(probe "npipe:////./pipe/broker-test-$$-all?sddl=everyone")
log=$(tr -d '\r' <"$T/err")
case $log in
*"(A;;GA;;;S-1-5-"*")(A;;GA;;;SY)(A;;0x0012019b;;;WD)"*) ok "sddl=everyone: everyone read/write (0x12019b), we and SYSTEM full" ;;
*) notok "sddl=everyone: the descriptor logged is not the read/write one: $(echo "$log" | grep -o 'sddl [^)]*.*' | head -n 1)" ;;
esac
case $log in
*"(A;;GA;;;WD)"*) notok "sddl=everyone still grants everyone GENERIC_ALL" ;;
*) ok "sddl=everyone no longer grants everyone GENERIC_ALL (FILE_CREATE_PIPE_INSTANCE)" ;;
esac
exit $FAILED
