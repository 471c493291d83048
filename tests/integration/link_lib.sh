# tests/integration/link_lib.sh - helpers for tests with two linked brokers.
# Sourced after lib.sh:
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/link_lib.sh"
#
# Each broker has a short NAME (A, B, ...): runtime and state in $T/NAME,
# log in $T/NAME.N.log (N counts restarts), pid in the variable PID_NAME.
# Convention used by the link tests: A accepts links (--link-listen), B dials
# (--link-connect).  POSIX sh (dash).

LINK_PLUGIN_ARGS="$PLUGIN_ARGS"
for _p in exec vsock; do
	[ -e "$top_builddir/plugins/$_p/.libs/$_p.so" ] &&
		LINK_PLUGIN_ARGS="$LINK_PLUGIN_ARGS --plugin-dir $top_builddir/plugins/$_p/.libs"
done
LINKPEER="$top_builddir/tests/tools/linkpeer"
# A sanitizer build (ASan/UBSan) runs several times slower: tests scale down.
SANITIZED=
grep -q "__asan_init\|__ubsan_handle\|__tsan_init" "$BROKERD" 2>/dev/null && SANITIZED=1

# bpid NAME: the pid of broker NAME (empty when not running).
bpid() { eval "echo \${PID_$1:-}"; }
# blog NAME: the current log file of broker NAME.
blog() { eval "echo \${LOG_$1:-$T/$1.log}"; }
# bctl NAME ARGS...: brokerctl against broker NAME.
bctl() { _b=$1; shift; "$BROKERCTL" --runtime-dir "$T/$_b" "$@"; }
bctl_ok() { bctl "$1" status >/dev/null 2>&1; }
balive() { _p=$(bpid "$1"); [ -n "$_p" ] && alive "$_p"; }

# bstart NAME ARGS...: start brokerd NAME and wait until its control socket
# answers (15 s).  Sets PID_NAME and LOG_NAME.
bstart() {
	_b=$1; shift
	mkdir -p -m 700 "$T/$_b"   # a runtime dir: brokerd wants 0700
	eval "_n=\$((\${RUNS_$_b:-0} + 1)); RUNS_$_b=\$_n"
	_log="$T/$_b.$_n.log"
	"$BROKERD" --runtime-dir "$T/$_b" --state-dir "$T/$_b" $LINK_PLUGIN_ARGS \
		--log-level debug "$@" >"$_log" 2>&1 &
	_pid=$!
	record "$_pid"
	eval "PID_$_b=$_pid; LOG_$_b=\$_log"
	_i=0
	while ! bctl_ok "$_b"; do
		if ! alive "$_pid"; then
			wait "$_pid" 2>/dev/null
			bail "brokerd $_b exited with status $? during startup: $(tail -n 3 "$_log" | tr '\n' ' ')"
		fi
		_i=$((_i + 1))
		[ "$_i" -le 150 ] || bail "brokerd $_b did not answer 'brokerctl status' within 15 s"
		sleep 0.1
	done
}

# bstop NAME [SECONDS]: SIGTERM broker NAME and wait (20 s); sets STOP_RC
# (exit status, or "killed" when SIGKILL was needed; returns 1 then).
bstop() {
	_p=$(bpid "$1")
	eval "PID_$1="
	[ -n "$_p" ] || { STOP_RC=0; return 0; }
	kill -TERM "$_p" 2>/dev/null
	if ! wait_exit "$_p" "${2:-20}"; then
		hang_backtrace "$_p" "$1"
		kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
		STOP_RC=killed
		return 1
	fi
	STOP_RC=$WAIT_RC
	return 0
}

# bkill9 NAME: SIGKILL broker NAME and reap it.
bkill9() {
	_p=$(bpid "$1")
	eval "PID_$1="
	[ -n "$_p" ] || return 0
	kill -KILL "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
	return 0
}

# make_secret FILE: a random 0600 shared secret for tcp links.
make_secret() {
	( umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1" )
	chmod 600 "$1"
}

# link_json NAME: `link status --json` of broker NAME into $T/NAME.link.json.
link_json() { bctl "$1" link status --json >"$T/$1.link.json" 2>&1; }

# link_field NAME ROLE FIELD: FIELD of the first link whose role is ROLE
# (connect, accepted, listen, stdio; "any" for the first link that is not a
# bare listener).  Reads the pretty-printed JSON one "key": value per line.
link_field() {
	link_json "$1" || return 1
	awk -v role="$2" -v field="$3" '
		/^[ \t]*{/ { split("", f); next }
		/^[ \t]*"[a-z_]+":/ {
			line = $0
			sub(/^[ \t]*"/, "", line)
			k = line; sub(/".*/, "", k)
			v = line; sub(/^[a-z_]+":[ \t]*/, "", v); sub(/,[ \t]*$/, "", v)
			if (v ~ /^".*"$/) v = substr(v, 2, length(v) - 2)
			f[k] = v
			next
		}
		/^[ \t]*}/ {
			if (!done && ((role == "any" && f["role"] != "listen") || f["role"] == role)) {
				print f[field]; done = 1
			}
		}' "$T/$1.link.json"
}

# link_up NAME [ROLE]: the link of broker NAME (first non-listener, or ROLE) is up.
link_up() { [ "$(link_field "$1" "${2:-any}" state)" = up ]; }

# wait_link_up NAME [SECONDS] [ROLE]: bounded poll until the link is up.
wait_link_up() {
	wait_until "${2:-15}" link_up "$1" "${3:-any}"
}

# wait_link_state NAME ROLE STATE SECONDS
wait_link_state() {
	_ws_i=0
	while [ "$_ws_i" -lt $(($4 * 10)) ]; do
		[ "$(link_field "$1" "$2" state)" = "$3" ] && return 0
		sleep 0.1
		_ws_i=$((_ws_i + 1))
	done
	return 1
}

# log_has NAME REGEX: broker NAME's current log matches REGEX (grep -E).
log_has() { grep -Eq -- "$2" "$(blog "$1")"; }
# wait_log NAME REGEX SECONDS
wait_log() { wait_until "$3" log_has "$1" "$2"; }

# broute NAME ROUTE LISTEN CONNECT [ARGS...]: route add on broker NAME, or bail.
broute() {
	_b=$1; _n=$2; _l=$3; _c=$4; shift 4
	bctl "$_b" route add "$_n" --listen "$_l" --connect "$_c" "$@" >"$T/ctl.out" 2>&1 ||
		bail "$_b: route add $_n $_l -> $_c failed: $(cat "$T/ctl.out")"
}

# route_state NAME ROUTE: the route's line in `route list` (for messages).
route_line() { bctl "$1" route list 2>/dev/null | grep -w -- "$2"; }

# children_of PID: direct children of PID (Linux /proc).
children_of() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$'; }

# fd_count PID / rss_kb PID
fd_count() { ls /proc/"$1"/fd 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status 2>/dev/null; }

# elapsed_since START: whole seconds since START (from `date +%s`).
elapsed_since() { echo $(($(date +%s) - $1)); }

# log_ms NAME REGEX: the UTC time of day in ms of each line of broker NAME's
# log that matches REGEX (log lines start with 2026-01-02T03:04:05.678Z).
log_ms() {
	grep -E -- "$2" "$(blog "$1")" 2>/dev/null |
		awk '{ split(substr($1, 12, 12), a, /[:.]/); print ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 + a[4] }'
}
now_ms_utc() { date -u +%H:%M:%S.%3N | awk '{ split($1, a, /[:.]/); print ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 + a[4] }'; }

# backoff_thins NAME REGEX: a dialer started with --link-backoff-max 2 and
# rejected on every attempt backs off exponentially.  Its attempts are the
# lines of broker NAME's log matching REGEX; from the first one (t0) it
# waits until t0 + 6.5 s, then counts those in [t0 + 2 s, t0 + 6 s): the
# backoff (doubling from 0.1 s, each wait between half and all of it, capped
# at 2 s) allows at most 4 there and at least 1 (it keeps retrying); a fixed
# 250 ms retry would make about 16.  Pass: at most 6 and at least 1.
# Sets BACKOFF_MSG either way.
backoff_thins() {
	_bt0=$(log_ms "$1" "$2" | head -n 1)
	[ -n "$_bt0" ] || { BACKOFF_MSG="no attempt logged"; return 1; }
	_bi=0
	while :; do
		_bnow=$(now_ms_utc)
		[ "$_bnow" -lt "$_bt0" ] && _bnow=$((_bnow + 86400000))
		[ $((_bnow - _bt0)) -ge 6500 ] && break
		_bi=$((_bi + 1))
		[ "$_bi" -le 120 ] || break
		sleep 0.1
	done
	_bgaps=$(log_ms "$1" "$2" | awk -v t0="$_bt0" '{ d = $1 - t0; if (d < 0) d += 86400000; printf "%d ", d }')
	_bn=$(log_ms "$1" "$2" | awk -v t0="$_bt0" '{ d = $1 - t0; if (d < 0) d += 86400000; if (d >= 2000 && d < 6000) n++ } END { print n + 0 }')
	BACKOFF_MSG="$_bn attempts between 2 s and 6 s after the first (attempts at +ms: $(echo "$_bgaps" | cut -c1-200))"
	[ "$_bn" -ge 1 ] && [ "$_bn" -le 6 ]
}
