#!/bin/sh
# tests/windows/npipe_burst.sh - named pipes under concurrent clients (issue
# 15), with the Windows broker under wine linked to a Linux one the way WSL
# interop does it (as in e2e.sh, without dockerd):
#
#   Linux brokerd B --link-connect "exec:sh -c 'wine brokerd.exe --link-stdio ...'"
#   B's route wecho: peer:npipe:////./pipe/P-echo -> unix://echo.sock (xfer serve-echo)
#
#  1. tests/windows/pipe_semantics.exe: the ConnectNamedPipe answers npipe.c
#     relies on (ERROR_PIPE_CONNECTED with no completion, ERROR_NO_DATA);
#  2. 20 clients at once, 4 MiB each way, crc64 checked: all pass; B's link
#     counts exactly 20 more streams; B (the route's owner) shows exactly 20
#     connections and 20 x 4 MiB each way for wecho (counters from W);
#  3. 50 clients at once plus 5 that connect and close at once, spread among
#     them: the 50 pass; B shows 55 more connections, 50 x 4 MiB more bytes,
#     and every quitter either became a stream or an error (streams + errors
#     = 55), each dropped one with a logged reason on W;
#  4. a wedged pipe (one instance, taken, never another): brokerctl.exe
#     --timeout 3 fails within its timeout with a clear message; a route
#     whose connect side is that pipe with ?connect_timeout_ms=1500 gives up
#     after 1.5 s and says so.
#
# Environment: top_builddir (Linux build), WIN_BUILD (cross build),
# WINEPREFIX (private one made when unset), NPIPE_BURST_BYTES (default 4M).
# TAP, 15 results.  Anything missing (wine, jq, the builds) is a failure:
# scripts/test-windows and scripts/bootstrap provide them.  POSIX sh.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/link_lib.sh"
plan 15

: "${WIN_BUILD:=$top_srcdir/build-windows/build}"
: "${NPIPE_BURST_BYTES:=4M}"
WBROKERD="$WIN_BUILD/broker/brokerd.exe"
WBROKERCTL="$WIN_BUILD/ctl/brokerctl.exe"
NPIPE_DIR="$WIN_BUILD/plugins/npipe/.libs"
command -v wine >/dev/null 2>&1 || bail "wine not installed (scripts/test-windows installs it)"
command -v jq >/dev/null 2>&1 || bail "jq not installed (scripts/bootstrap installs it)"
[ -x "$BROKERD" ] || bail "Linux brokerd not built ($BROKERD)"
[ -e "$WBROKERD" ] || bail "Windows brokerd.exe not built ($WBROKERD; run scripts/build-windows)"
[ -e "$WBROKERCTL" ] || bail "Windows brokerctl.exe not built ($WBROKERCTL)"
[ -e "$NPIPE_DIR/npipe.dll" ] || bail "npipe.dll not built ($NPIPE_DIR)"

. "$(dirname "$0")/wine_lib.sh"

# The test programs: from the cross build, else compiled here.
winprog() {
	_exe="$WIN_BUILD/tests/windows/$1.exe"
	if [ ! -e "$_exe" ] || [ "$top_srcdir/tests/windows/$1.c" -nt "$_exe" ]; then
		_exe="$T/$1.exe"
		x86_64-w64-mingw32-gcc -O2 -o "$_exe" "$top_srcdir/tests/windows/$1.c" -ladvapi32 >"$T/cc-$1.log" 2>&1 ||
			bail "cannot build $1.exe: $(head -c 300 "$T/cc-$1.log")"
	fi
	echo "$_exe"
}
PIPECLIENT=$(winprog pipeclient) || exit 1
SEMANTICS=$(winprog pipe_semantics) || exit 1
pc() { timeout 300 wine "$PIPECLIENT" "$@"; }

# ---- 1. the OS answers the plugin relies on ---------------------------------------
if timeout 120 wine "$SEMANTICS" >"$T/sem.out" 2>&1; then
	pass "pipe_semantics: $(tr -d '\r' <"$T/sem.out" | tail -n 1)"
else
	fail "pipe_semantics: $(tr -d '\r' <"$T/sem.out" | tr '\n' '|')"
fi
tr -d '\r' <"$T/sem.out" | sed 's/^/# /'

# ---- the Windows broker, spawned by the Linux one over stdio ----------------------
serve echo echo "unix:$T/echo.sock"
W="$T/W"
mkdir -p "$W"
WCMD="wine $WBROKERD --link-stdio --runtime-dir npb-$$ --state-dir Z:$W --log-level info --plugin-dir Z:$NPIPE_DIR"
bstart B --link-connect "exec:sh -c 'exec 2>>$T/W.log; $WCMD; true'?env=WINE*"  # the child's wine shares our prefix
wait_link_up B 90 || bail "link to the wine broker not up within 90 s: $(tail -n 5 "$T/W.log" | tr '\n' ' ')"
W_ID=$(link_field B any peer_id)
pass "Linux brokerd linked to brokerd.exe under wine (peer $W_ID)"

P=npb-$$
broute B wecho "peer:npipe:////./pipe/$P-echo" "unix://$T/echo.sock"
route_num() {
	bctl B --json route list 2>/dev/null >"$T/rl.json" || return 1
	jq -r --arg n "$1" --arg f "$2" '.[] | select(.name == $n) | .[$f]' "$T/rl.json"
}
listening() { case $(route_num wecho state) in listening*) return 0 ;; esac; return 1; }
wait_until 30 listening || bail "the wine broker never listened on //./pipe/$P-echo: $(route_num wecho state)"
case $(route_num wecho state) in
*"(peer $W_ID)") pass "STATE on B names the broker that listens: $(route_num wecho state)" ;;
*) fail "STATE on B: '$(route_num wecho state)', want it to name peer $W_ID" ;;
esac

streams() { link_field B any streams_total; }
streams_zero() { [ "$(link_field B any streams_open)" = 0 ]; }
bytes_of() {
	_n=${1%[KMG]}
	case $1 in *K) echo $((_n * 1024)) ;; *M) echo $((_n * 1048576)) ;; *G) echo $((_n * 1073741824)) ;; *) echo "$1" ;; esac
}
B1=$(bytes_of "$NPIPE_BURST_BYTES")
counters_are() {   # CONNS BYTES ERRORS-MAX
	[ "$(route_num wecho conns_total)" = "$1" ] && [ "$(route_num wecho conns_active)" = 0 ] &&
		[ "$(route_num wecho bytes_in)" = "$2" ] && [ "$(route_num wecho bytes_out)" = "$2" ] &&
		[ "$(route_num wecho errors)" -le "$3" ]
}
show() { jq -c '.[] | select(.name == "wecho") | {conns_total, conns_active, bytes_in, bytes_out, errors}' "$T/rl.json"; }

# ---- 2. 20 at once -----------------------------------------------------------------
s0=$(streams)
if pc "$P-echo" multi 20 "$NPIPE_BURST_BYTES" >"$T/m20.out" 2>&1; then
	pass "20 clients at once: $(tr -d '\r' <"$T/m20.out" | head -n 1)"
else fail "20 clients at once: $(tr -d '\r' <"$T/m20.out" | head -n 8 | tr '\n' '|')"; fi
wait_until 20 streams_zero
s1=$(streams)
if streams_zero && [ $((s1 - s0)) -eq 20 ]; then pass "B's link counts exactly 20 more streams ($s0 -> $s1)"
else fail "B's link counts $((s1 - s0)) more streams, want 20 ($s0 -> $s1; open: $(link_field B any streams_open))"; fi
if wait_until 15 counters_are 20 $((20 * B1)) 0; then
	pass "route list on B (the owner): wecho 20 connections, $((20 * B1)) bytes each way, 0 errors (from W)"
else fail "route list on B: $(show), want 20 connections and $((20 * B1)) bytes each way"; fi

# ---- 3. 50 at once, 5 quitters among them --------------------------------------------
if pc "$P-echo" multi 50 "$NPIPE_BURST_BYTES" --quit 5 >"$T/m50.out" 2>&1; then
	pass "50 clients at once with 5 that quit at once: $(tr -d '\r' <"$T/m50.out" | head -n 1)"
else fail "50 clients + 5 quitters: $(tr -d '\r' <"$T/m50.out" | head -n 8 | tr '\n' '|')"; fi
wait_until 20 streams_zero
s2=$(streams)
if wait_until 15 counters_are 75 $((70 * B1)) 5; then
	pass "route list on B: wecho 75 connections (20 + 50 + 5 quitters), $((70 * B1)) bytes each way"
else fail "route list on B: $(show), want 75 connections, $((70 * B1)) bytes each way, at most 5 errors"; fi
e=$(route_num wecho errors)
if streams_zero && [ $((s2 - s1 + e)) -eq 55 ]; then
	pass "every one of the 55 is a stream or a counted drop: $((s2 - s1)) streams + $e dropped"
else fail "$((s2 - s1)) streams + $e dropped = $((s2 - s1 + e)), want 55"; fi
logged=$(tr -d '\r' <"$T/W.log" | sed -n 's/.*wecho: \([0-9]*\) clients* dropped before becoming a stream: .*/\1/p' |
	awk '{ n += $1 } END { print n + 0 }')
if [ "$logged" -eq "$e" ]; then pass "W logged a reason for each of the $e dropped clients"
else fail "W logged $logged dropped clients, B counts $e errors: $(grep dropped "$T/W.log" | head -n 3)"; fi

# ---- 3b. 100 quitters at a one-instance pipe: the narrowest window ---------------------
broute B wquit "peer:npipe:////./pipe/$P-quit?instances=1&max_instances=1" "unix://$T/echo.sock"
qlistening() { case $(route_num wquit state) in listening*) return 0 ;; esac; return 1; }
wait_until 30 qlistening || bail "the wine broker never listened on //./pipe/$P-quit: $(route_num wquit state)"
q0=$(streams)
if pc "$P-quit" multi 1 1K --quit 100 >"$T/q.out" 2>&1; then
	pass "100 clients that connect and close at once: $(tr -d '\r' <"$T/q.out" | head -n 1)"
else fail "100 quitters: $(tr -d '\r' <"$T/q.out" | head -n 8 | tr '\n' '|')"; fi
wait_until 20 streams_zero
qdone() { [ "$(route_num wquit conns_total)" = 101 ]; }
wait_until 15 qdone
q1=$(streams)
qe=$(route_num wquit errors)
if qdone && streams_zero && [ $((q1 - q0 + qe)) -eq 101 ]; then
	pass "every one of the 101 is a counted connection, and a stream or a counted drop: $((q1 - q0)) streams + $qe dropped"
else fail "wquit on B: $(route_num wquit conns_total) connections (want 101), $((q1 - q0)) streams + $qe dropped = $((q1 - q0 + qe)) (want 101)"; fi
qlogged=$(tr -d '\r' <"$T/W.log" | sed -n 's/.*wquit: \([0-9]*\) clients* dropped before becoming a stream: .*/\1/p' |
	awk '{ n += $1 } END { print n + 0 }')
if [ "$qlogged" -eq "$qe" ]; then pass "W logged a reason for each of the $qe dropped quitters"
else fail "W logged $qlogged dropped quitters, B counts $qe errors"; fi

# ---- 4. a wedged pipe ------------------------------------------------------------------
(timeout 120 wine "$PIPECLIENT" "wedge-$$-ctl" wedge 100 >"$T/wedge.out" 2>&1) &
record $!
wait_until 30 grep -q wedged "$T/wedge.out" || bail "the wedged pipe did not start: $(cat "$T/wedge.out")"
t0=$(date +%s)
timeout 60 wine "$WBROKERCTL" --runtime-dir "wedge-$$" --timeout 3 status >"$T/ctl.out" 2>&1
rc=$?
t=$(elapsed_since "$t0")
msg=$(tr -d '\r' <"$T/ctl.out" | head -n 2 | tr '\n' ' ')
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$t" -lt 30 ] && echo "$msg" | grep -q "within 3 s: it stays busy"; then
	pass "brokerctl.exe --timeout 3 against a wedged pipe fails after ${t} s: $msg"
else fail "brokerctl.exe against a wedged pipe: exit $rc after ${t} s: $msg"; fi

broute B wwedge "unix://$T/wedge.sock" "peer:npipe:////./pipe/wedge-$$-ctl?connect_timeout_ms=1500"
t0=$(date +%s)
"$XFER" send "unix:$T/wedge.sock" 1K --io-timeout 30 >/dev/null 2>&1
busy_said() { grep -q "the peer could not connect: .*all pipe instances stayed busy for 1500 ms" "$(blog B)"; }
if wait_until 20 busy_said; then
	pass "npipe connect to the wedged pipe gives up after 1.5 s ($(elapsed_since "$t0") s with the client): $(grep -o 'all pipe instances stayed busy[^;]*' "$(blog B)" | head -n 1)"
else fail "npipe connect to the wedged pipe: no 'stayed busy for 1500 ms' in B's log: $(grep wwedge "$(blog B)" | tail -n 2)"; fi

bstop B
finish
