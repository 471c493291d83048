# tests/integration/lib.sh - shared helpers for the integration tests.
# Sourced by each test:  . "$(dirname "$0")/lib.sh"
#
# Every test runs real processes on a private temp dir ($T): brokerd with
# its runtime dir in $T/run and its state in $T/state, plus helper servers
# from tests/tools/xfer.  The EXIT trap runs what the test gave at_exit, then
# kills only the pids this test started (recorded in $T/pids) and removes $T
# (kept when KEEP_T=1, for debugging).
#
# Output is TAP, judged by tests/tap-run (tests/README.md): `plan N` first
# (the number of pass/fail results the test gives on every path), then one
# "ok"/"not ok" line per pass/fail.  skip prints "1..0 # SKIP why" (or, after
# the plan, skips what is left) and only passes when tests/expected-skips
# lists the test with that reason.  Exit status 0, or 1 when a check failed.
# POSIX sh (dash) on purpose.

set -u

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
TEST_NAME=$(basename "$0" .sh)

BROKERD="$top_builddir/broker/brokerd"
BROKERCTL="$top_builddir/ctl/brokerctl"
XFER="$top_builddir/tests/tools/xfer"
PLUGIN_ARGS="--plugin-dir $top_builddir/plugins/unix/.libs --plugin-dir $top_builddir/plugins/tcp/.libs"

# Sanitizer builds: keep going on leaks only at exit, and make reports loud.
: "${ASAN_OPTIONS:=detect_leaks=1}"
: "${UBSAN_OPTIONS:=halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS UBSAN_OPTIONS
# Tests must not pick up the caller's broker settings.
unset BROKER_RUNTIME_DIR BROKER_STATE_DIR BROKER_PLUGIN_DIR BROKER_HTTP_LISTEN \
	BROKER_CONFIG BROKER_LOG_FORMAT BROKER_DRAIN_TIMEOUT LOG_LEVEL 2>/dev/null || true

FAILED=0
NTEST=0
PLANNED=
BROKER_PID=
BROKER_N=0

# --- reporting (TAP) ------------------------------------------------------

# One line per result: a multi-line message (command output) is joined, so
# no line of it can pass for a TAP result.
_tap() { printf '%s\n' "$1 $NTEST - $(printf '%s' "$2" | tr '\n' ' ')"; }
note() { echo "# $*" | sed '2,$s/^/# /'; }
# plan N: this test gives exactly N results; before the first one.
plan() { PLANNED=$1; echo "1..$1"; }
pass() { NTEST=$((NTEST + 1)); _tap ok "$*"; }
fail() { NTEST=$((NTEST + 1)); _tap "not ok" "$*"; FAILED=1; }
# skip WHY: stop here; everything not yet run is skipped with WHY.  Passes
# only when tests/expected-skips lists this test with WHY.
skip() {
	if [ -z "$PLANNED" ]; then
		echo "1..0 # SKIP $*"
	else
		while [ "$NTEST" -lt "$PLANNED" ]; do
			NTEST=$((NTEST + 1))
			echo "ok $NTEST # SKIP $*"
		done
	fi
	exit "$FAILED"
}
# skip_one WHY: one check that cannot run here (it still counts in the
# plan); passes only when tests/expected-skips lists this test with WHY.
skip_one() { NTEST=$((NTEST + 1)); echo "ok $NTEST # SKIP $*"; }
# Fatal failure: report and stop the test now (the rest of the plan is
# missing, which the driver reports too).
bail() { fail "$*"; exit 1; }
# check DESCRIPTION COMMAND...: pass when COMMAND exits 0.
check() {
	_d=$1; shift
	if "$@" >"$T/check.out" 2>&1; then pass "$_d"
	else fail "$_d: $(tail -n 3 "$T/check.out" | tr '\n' ' ')"; fi
}
finish() {
	if [ -z "$PLANNED" ]; then
		echo "# $TEST_NAME: no plan (call 'plan N' before the first check)"
		exit 1
	fi
	if [ "$NTEST" -ne "$PLANNED" ]; then
		echo "# $TEST_NAME: planned $PLANNED checks but ran $NTEST"
		exit 1
	fi
	if [ "$FAILED" -eq 0 ]; then echo "# $TEST_NAME: all $NTEST checks passed"; exit 0; fi
	exit 1
}

# --- prerequisites and temp dir -------------------------------------------

# Something missing here is a broken build, not a reason to skip.
[ -x "$BROKERD" ] || bail "brokerd not built ($BROKERD)"
[ -x "$BROKERCTL" ] || bail "brokerctl not built ($BROKERCTL)"
[ -x "$XFER" ] || bail "test helper not built ($XFER; run make check)"
[ -e "$top_builddir/plugins/unix/.libs/unix.so" ] || bail "unix plugin not built"
[ -e "$top_builddir/plugins/tcp/.libs/tcp.so" ] || bail "tcp plugin not built"

# Unix socket paths must stay under 108 bytes: use a short base.
_base=${TMPDIR:-/tmp}
[ ${#_base} -le 40 ] || _base=/tmp
T=$(mktemp -d "$_base/brk-$TEST_NAME.XXXXXX") || bail "cannot create a temp dir under $_base"
: >"$T/pids"
# Runtime dirs are 0700: brokerd refuses any other (see runtime_dir.sh).
mkdir -p -m 700 "$T/run" "$T/state"

# Is the pid alive (and not a zombie waiting to be reaped)?
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

# exclusive NAME: hold a machine-wide lock for the rest of this test, so
# that parallel runs (other worktrees, CI) of tests that need the same fixed
# resource (host ports a fixture names) take turns instead of colliding.
# Waits up to 5 minutes.  The lock is held by a helper process that exits
# with this test (or at cleanup), not by a descriptor of the test itself,
# which every daemon it starts would inherit and keep.
exclusive() {
	_ex_lock="/tmp/broker-test-$1.lock"
	rm -f "$T/exclusive.held"
	flock -w 300 "$_ex_lock" sh -c 'echo held >"$1"; while kill -0 "$2" 2>/dev/null; do sleep 0.5; done' \
		sh "$T/exclusive.held" "$$" </dev/null >/dev/null 2>&1 &
	record $!
	_ex_i=0
	while [ ! -s "$T/exclusive.held" ]; do
		alive "$!" || bail "another run held the '$1' lock ($_ex_lock) for 5 minutes"
		_ex_i=$((_ex_i + 1))
		[ "$_ex_i" -lt 3100 ] || bail "no '$1' lock ($_ex_lock) within 5 minutes"
		sleep 0.1
	done
}

# record PID: remember a pid this test started, for cleanup.
record() { echo "$1" >>"$T/pids"; }

# at_exit COMMAND: run COMMAND (shell text) at exit, before the pids are
# killed, in the order given; the test's exit status is kept.
AT_EXIT=
at_exit() { AT_EXIT="$AT_EXIT
$1"; }

cleanup() {
	_rc=$?
	trap - EXIT INT TERM
	eval "$AT_EXIT"
	while read -r _p; do
		[ -n "$_p" ] && alive "$_p" && kill -TERM "$_p" 2>/dev/null
	done <"$T/pids"
	sleep 0.2
	while read -r _p; do
		[ -n "$_p" ] && alive "$_p" && kill -KILL "$_p" 2>/dev/null
	done <"$T/pids"
	if [ "$_rc" -ne 0 ]; then
		for _l in "$T"/*.log; do
			[ -f "$_l" ] || continue
			echo "# ---- tail of $(basename "$_l") ----"
			case $_l in
			*.hang-bt.log)
				# Every thread, without the frames inside libc's waits.
				grep -E '^(Thread|#[0-9])' "$_l" | grep -vE 'futex|pthread_cond_wait|lowlevellock|__GI___poll|epoll_wait.c' |
					head -n 300 | sed 's/^/# /' ;;
			*) tail -n 30 "$_l" | sed 's/^/# /' ;;
			esac
		done
		# Sanitizer reports from child processes.
		grep -l "Sanitizer" "$T"/*.log 2>/dev/null | sed 's/^/# sanitizer report in /'
	fi
	[ -n "${KEEP_T:-}" ] || rm -rf "$T"
	exit "$_rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_until SECONDS COMMAND...: retry COMMAND every 0.1 s until it
# succeeds: SECONDS * 10 tries (so a loaded machine gets its tries), but
# never longer than 3 * SECONDS + 10 s of wall time (a COMMAND that itself
# takes seconds, such as curl -m 2, would otherwise stretch a 10 s wait to
# 200 s and the test into the harness's timeout).
wait_until() {
	_limit=$1; shift
	_i=0
	_wu_end=$(($(date +%s) + _limit * 3 + 10))
	while [ "$_i" -lt $((_limit * 10)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s)" -lt "$_wu_end" ] || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# wait_exit PID SECONDS: wait for a child we started to exit; sets WAIT_RC.
# Returns 1 (and leaves it running) when it is still alive after SECONDS.
wait_exit() {
	_i=0
	while alive "$1"; do
		[ "$_i" -ge $(($2 * 10)) ] && return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	wait "$1" 2>/dev/null
	WAIT_RC=$?
	return 0
}

# --- helpers: servers -------------------------------------------------------

# serve NAME KIND ADDR [ARGS...]: start an xfer server, wait until it listens.
# Sets SERVE_PID and SERVE_ADDR (the bound address, e.g. tcp:127.0.0.1:PORT).
serve() {
	_name=$1; _kind=$2; _addr=$3; shift 3
	rm -f "$T/$_name.ready"
	"$XFER" "serve-$_kind" "$_addr" "$@" --ready "$T/$_name.ready" --lifetime 300 \
		>"$T/$_name.log" 2>&1 &
	SERVE_PID=$!
	record "$SERVE_PID"
	wait_until 10 test -s "$T/$_name.ready" || bail "helper server $_name did not start"
	SERVE_ADDR=$(cat "$T/$_name.ready")
}

# free_port [--ipv6]: print a currently unused loopback port.
free_port() { "$XFER" free-port "$@"; }

# xfer_url ADDR: turn an xfer address (unix:/p, tcp:h:p) into a broker URL.
xfer_url() {
	case $1 in
	unix:/*) echo "unix://${1#unix:}" ;;
	tcp:*) echo "tcp://${1#tcp:}" ;;
	*) echo "$1" ;;
	esac
}

# --- helpers: the broker ----------------------------------------------------

# ctl ARGS...: brokerctl against this test's broker.
ctl() { "$BROKERCTL" --runtime-dir "$T/run" "$@"; }

# start_broker [ARGS...]: start brokerd on $T/run and $T/state, wait until
# `brokerctl status` answers.  Sets BROKER_PID and BROKER_LOG.
start_broker() {
	BROKER_N=$((BROKER_N + 1))
	BROKER_LOG="$T/brokerd.$BROKER_N.log"
	"$BROKERD" --runtime-dir "$T/run" --state-dir "$T/state" $PLUGIN_ARGS \
		--log-level debug "$@" >"$BROKER_LOG" 2>&1 &
	BROKER_PID=$!
	record "$BROKER_PID"
	_i=0
	while ! ctl status >/dev/null 2>&1; do
		if ! alive "$BROKER_PID"; then
			wait "$BROKER_PID" 2>/dev/null
			bail "brokerd exited with status $? during startup (log: $(tail -n 3 "$BROKER_LOG" | tr '\n' ' '))"
		fi
		_i=$((_i + 1))
		[ "$_i" -le 150 ] || bail "brokerd did not answer 'brokerctl status' within 15 s"
		sleep 0.1
	done
}

# hang_backtrace PID NAME: a process that did not exit when told to: every
# thread's backtrace into $T/NAME.hang-bt.log (shown with the other logs
# when the test fails), when gdb is there.
hang_backtrace() {
	command -v gdb >/dev/null 2>&1 || return 0
	timeout 60 gdb -p "$1" -batch -ex "thread apply all bt" >"$T/$2.hang-bt.log" 2>&1
}

# stop_broker [SECONDS]: SIGTERM our broker and wait; sets STOP_RC.
# Returns 1 if it had to be killed.
stop_broker() {
	[ -n "$BROKER_PID" ] || return 0
	kill -TERM "$BROKER_PID" 2>/dev/null
	if ! wait_exit "$BROKER_PID" "${1:-20}"; then
		hang_backtrace "$BROKER_PID" "brokerd.$BROKER_N"
		kill -KILL "$BROKER_PID" 2>/dev/null
		wait "$BROKER_PID" 2>/dev/null
		STOP_RC=killed
		BROKER_PID=
		return 1
	fi
	STOP_RC=$WAIT_RC
	BROKER_PID=
	return 0
}

# broker_alive: is our broker still running?
broker_alive() { [ -n "$BROKER_PID" ] && alive "$BROKER_PID"; }

# add_route NAME LISTEN CONNECT [ARGS...]: brokerctl route add, or bail.
add_route() {
	_n=$1; _l=$2; _c=$3; shift 3
	ctl route add "$_n" --listen "$_l" --connect "$_c" "$@" >"$T/ctl.out" 2>&1 ||
		bail "route add $_n $_l -> $_c failed: $(cat "$T/ctl.out")"
}

# sanitizer_clean LOG: no ASan/UBSan report in a log.
sanitizer_clean() { ! grep -q "Sanitizer\|runtime error:" "$1"; }

# route_listed NAME: `brokerctl route list` shows NAME.
route_listed() { ctl route list 2>/dev/null | grep -qw -- "$1"; }
# ctl_ok: `brokerctl status` answers.
ctl_ok() { ctl status >/dev/null 2>&1; }
# stopped_ok: stop the broker; pass when it exits 0 on SIGTERM.
stopped_ok() {
	if stop_broker && [ "$STOP_RC" = 0 ]; then pass "SIGTERM: brokerd exits 0"
	else fail "SIGTERM: brokerd exit status $STOP_RC"; fi
}
