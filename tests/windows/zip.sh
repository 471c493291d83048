#!/bin/sh
# tests/windows/zip.sh - the Windows zip scripts/build-windows makes
# (issue 13, part 4): it holds the programs, plugins\*.dll, README.md,
# brokerd.json and the man pages as text, and unpacked anywhere it works
# on its own: brokerd.exe with no --plugin-dir loads the plugins beside it,
# reads the brokerd.json beside it (which --check-config accepts), and
# answers brokerctl.exe.  TAP, 7 results.
# Environment: WIN_BUILD (the cross build: build-windows/build), WINEPREFIX.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${WIN_BUILD:=$top_srcdir/build-windows/build}"
echo "1..7"
. "$(dirname "$0")/tap_lib.sh"
command -v wine >/dev/null 2>&1 || bail "wine not installed"
command -v unzip >/dev/null 2>&1 || bail "unzip not installed (scripts/bootstrap installs it)"
VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$WIN_BUILD/config.h")
ZIP="$WIN_BUILD/../broker-$VERSION-win64.zip"
[ -f "$ZIP" ] || bail "no $ZIP (scripts/build-windows makes it)"
T=$(mktemp -d)
export WINEDEBUG=-all
if [ -z "${WINEPREFIX:-}" ]; then WINEPREFIX="$T/wine"; OWN=1; fi
export WINEPREFIX
PID=""
trap 'rc=$?; [ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "${OWN:-}" ] && wineserver -k 2>/dev/null; rm -rf "$T"; exit $rc' EXIT

# 1: what is in it.
unzip -q "$ZIP" -d "$T/u" || bail "unzip $ZIP failed"
D="$T/u/broker-$VERSION-win64"
missing=""
for f in brokerd.exe brokerctl.exe plugins/npipe.dll plugins/tcp.dll plugins/exec.dll plugins/hvsock.dll README.md \
	brokerd.json doc/brokerctl.1.txt doc/brokerd.8.txt doc/broker.conf.5.txt doc/broker-link.7.txt doc/broker-plugin.7.txt; do
	[ -s "$D/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then ok "broker-$VERSION-win64.zip: the programs, 4 plugins, README.md, brokerd.json, 5 man pages as text"
else notok "missing from the zip:$missing (has: $(cd "$D" 2>/dev/null && find . -type f | tr '\n' ' '))"; fi

# 2: the text files are for Windows: CRLF, and the pages are plain text (no overstrike).
if grep -q "$(printf '\r')\$" "$D/README.md" && ! grep -q "$(printf '\b')" "$D/doc/brokerd.8.txt" &&
	grep -q 'SYNOPSIS' "$D/doc/brokerd.8.txt"; then
	ok "README.md and doc/*.txt have CRLF line ends; the pages are plain text"
else notok "text files: CRLF $(grep -c "$(printf '\r')\$" "$D/README.md") lines; backspaces $(grep -c "$(printf '\b')" "$D/doc/brokerd.8.txt")"; fi

# 3: brokerd.exe from the unpacked zip runs.
# Wine's output through files, never pipes (see scripts/test-windows).
(cd "$D" && timeout 120 wine ./brokerd.exe --version) >"$T/v.out" 2>/dev/null
out=$(tr -d '\r' <"$T/v.out")
case $out in
"brokerd $VERSION "*) ok "brokerd.exe --version from the zip: $out" ;;
*) notok "brokerd.exe --version: '$out'" ;;
esac

# 4: the brokerd.json beside it is the default file and is valid.
(cd "$D" && timeout 120 wine ./brokerd.exe --check-config) >"$T/cc.out" 2>&1
out=$(tr -d '\r' <"$T/cc.out")
case $out in
*"brokerd.json"*OK*|*OK*"brokerd.json"*) ok "--check-config reads the zip's brokerd.json by default: $(printf '%s\n' "$out" | tail -n 1)" ;;
*) notok "--check-config with the zip's brokerd.json: $(printf '%s\n' "$out" | tail -n 3 | tr '\n' '|')" ;;
esac

# 5-7: it starts with no flags but a private runtime name, loads the plugins beside it, and answers brokerctl.exe.
RUN="brkzip-$$"
(cd "$D" && exec wine ./brokerd.exe --runtime-dir "$RUN" --state-dir "Z:$T/state") >"$T/brokerd.log" 2>&1 &
PID=$!
i=0
while ! (cd "$D" && timeout 60 wine ./brokerctl.exe --runtime-dir "$RUN" status) >"$T/status.out" 2>&1; do
	i=$((i + 1))
	[ "$i" -le 60 ] && kill -0 "$PID" 2>/dev/null || break
	sleep 1
done
if grep -q "plugins" "$T/status.out"; then ok "brokerd.exe from the zip answers brokerctl.exe status"
else notok "no answer from brokerd.exe: $(tr -d '\r' <"$T/brokerd.log" | tail -n 5 | tr '\n' '|')"; fi
(cd "$D" && timeout 60 wine ./brokerctl.exe --runtime-dir "$RUN" plugin list) >"$T/plugins.raw" 2>&1
tr -d '\r' <"$T/plugins.raw" >"$T/plugins.out"
absent=""
for p in npipe tcp exec hvsock; do grep -qw "$p" "$T/plugins.out" || absent="$absent $p"; done
if [ -z "$absent" ]; then ok "it loaded npipe, tcp, exec and hvsock from plugins\\ beside it (no --plugin-dir)"
else notok "plugins not loaded:$absent: $(tr '\n' '|' <"$T/plugins.out")"; fi
(cd "$D" && timeout 60 wine ./brokerctl.exe --runtime-dir "$RUN" shutdown) >/dev/null 2>&1
i=0
while kill -0 "$PID" 2>/dev/null && [ "$i" -lt 30 ]; do sleep 1; i=$((i + 1)); done
if ! kill -0 "$PID" 2>/dev/null && wait "$PID"; then PID=""; ok "brokerctl.exe shutdown: it exited with status 0"
else notok "brokerd.exe from the zip did not exit 0 after shutdown"; fi
exit $FAILED
