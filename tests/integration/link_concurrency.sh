#!/bin/sh
# Concurrency matrix: many busy streams at once over one link.  Over each
# carrier (unix; tcp with authentication; the stdio of a broker B spawns),
# through a route on B (the host side: its clients, the targets on A, the
# guest side): 1, 2, 4, 8, 32 and 100 concurrent bulk streams, host to guest
# (up), guest to host (down) and both at once.  tests/tools/linkload runs
# both ends: every byte of every stream is checked against its generator,
# and a run fails when any receiver waited more than 250 ms for data while
# its sender still had some to deliver (the multi-stream stall of issue 8
# showed as 1.5 to 5 s of nothing).  Time the brokers or linkload spent
# runnable but without a CPU (/proc/PID/schedstat) is not counted, so a
# loaded machine does not fail the test; stalled brokers are idle and do.
# Each stream moves max(1 MiB, 32 MiB / count) each way it runs; a sanitizer
# build moves a quarter of that.
# Results: per carrier the 18 runs, every stream closed, the broker still
# running; the five broker stops; no sanitizer report.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 66
LINKLOAD="$top_builddir/tests/tools/linkload"
[ -x "$LINKLOAD" ] || bail "test helper not built ($LINKLOAD; run make)"
[ -e "$top_builddir/plugins/exec/.libs/exec.so" ] || bail "exec plugin not built"

COUNTS=1,2,4,8,32,100
RUNS=18   # 6 counts x 3 directions
if [ -n "$SANITIZED" ]; then BYTES=8M MIN=256K; else BYTES=32M MIN=1M; fi
T0=$(date +%s)
SECRET="$T/link.secret"
make_secret "$SECRET"

# matrix C B PIDS...: the matrix through a new route on broker B; PIDS are
# the brokers on the path (their CPU waits are not held against it).
matrix() {
	c=$1 b=$2; shift 2
	watch=
	for p in "$@"; do watch="$watch --watch-pid $p"; done
	broute "$b" "mx-$c" "unix://$T/$c-in.sock" "peer:unix://$T/$c-t.sock"
	t=$(date +%s)
	# shellcheck disable=SC2086 # one word per --watch-pid flag
	"$LINKLOAD" streams --connect "unix:$T/$c-in.sock" --listen "unix:$T/$c-t.sock" --counts "$COUNTS" \
		--dirs up,down,both --bytes "$BYTES" --min-size "$MIN" --gap-ms 250 --timeout 60 --label "$c" \
		--seed "$t" $watch >"$T/$c.out" 2>&1
	rc=$?
	runs=0
	while IFS= read -r line; do
		case $line in
		"ok "*) runs=$((runs + 1)); pass "${line#ok }" ;;
		"FAIL "*) runs=$((runs + 1)); fail "${line#FAIL }" ;;
		*) note "${line#\# }" ;;
		esac
	done <"$T/$c.out"
	# linkload stops after a failed run (or died: its exit status says which).
	while [ "$runs" -lt "$RUNS" ]; do
		runs=$((runs + 1))
		fail "$c: run $runs of $RUNS not made (linkload exit status $rc after an earlier failure)"
	done
	note "$c: the matrix took $(elapsed_since "$t") s"
	if wait_until 10 streams_zero "$b"; then pass "$c: every stream closed afterwards"
	else fail "$c: streams still open after the matrix: $(link_field "$b" any streams_open)"; fi
	if balive "$b"; then pass "$c: broker $b still running"
	else fail "$c: broker $b died: $(tail -n 5 "$(blog "$b")")"; fi
}
streams_zero() { [ "$(link_field "$1" any streams_open)" = 0 ]; }

# ---- unix ----
bstart Aunix --link-listen "unix://$T/link.sock" --peer-allow-connect "unix://$T/*" --peer-allow-listen "unix://$T/*"
bstart Bunix --link-connect "unix://$T/link.sock"
wait_link_up Bunix 15 || bail "unix: link not up within 15 s: $(tr '\n' ' ' <"$T/Bunix.link.json")"
matrix unix Bunix "$PID_Aunix" "$PID_Bunix"
bstop Bunix && [ "$STOP_RC" = 0 ] && pass "unix: dialer exits 0 on SIGTERM" || fail "unix: dialer stop: $STOP_RC"
bstop Aunix && [ "$STOP_RC" = 0 ] && pass "unix: acceptor exits 0 on SIGTERM" || fail "unix: acceptor stop: $STOP_RC"

# ---- tcp with auth ----
port=$(free_port) || bail "no free port"
bstart Atcp --link-listen "tcp://127.0.0.1:$port" --link-secret "$SECRET" --peer-allow-connect "unix://$T/*" --peer-allow-listen "unix://$T/*"
bstart Btcp --link-connect "tcp://127.0.0.1:$port" --link-secret "$SECRET"
wait_link_up Btcp 15 || bail "tcp: link not up within 15 s: $(tr '\n' ' ' <"$T/Btcp.link.json")"
matrix tcp Btcp "$PID_Atcp" "$PID_Btcp"
bstop Btcp && [ "$STOP_RC" = 0 ] && pass "tcp: dialer exits 0 on SIGTERM" || fail "tcp: dialer stop: $STOP_RC"
bstop Atcp && [ "$STOP_RC" = 0 ] && pass "tcp: acceptor exits 0 on SIGTERM" || fail "tcp: acceptor stop: $STOP_RC"

# ---- stdio: B spawns A ----
mkdir -p -m 700 "$T/Astdio"
bstart Bstdio --link-connect "exec:$BROKERD --link-stdio --runtime-dir $T/Astdio --state-dir $T/Astdio $LINK_PLUGIN_ARGS"
wait_link_up Bstdio 15 || bail "stdio: link not up within 15 s: $(tr '\n' ' ' <"$T/Bstdio.link.json")"
child=$(children_of "$PID_Bstdio")
for p in $child; do record "$p"; done
[ -n "$child" ] || bail "stdio: no spawned broker under pid $PID_Bstdio"
# shellcheck disable=SC2086 # the spawned broker's pid(s), one word each
matrix stdio Bstdio "$PID_Bstdio" $child
bstop Bstdio && [ "$STOP_RC" = 0 ] && pass "stdio: spawning broker exits 0 on SIGTERM" ||
	fail "stdio: spawning broker stop: $STOP_RC"

dirty=
for l in "$T"/A*.log "$T"/B*.log "$T"/Astdio/*.log; do
	[ -f "$l" ] && ! sanitizer_clean "$l" && dirty="$dirty $(basename "$l")"
done
[ -z "$dirty" ] && pass "no sanitizer report in any broker's log" || fail "sanitizer report in:$dirty"
note "link_concurrency took $(elapsed_since "$T0") s"
finish
