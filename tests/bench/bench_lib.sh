# shellcheck shell=sh
# tests/bench/bench_lib.sh - helpers shared by tests/bench/run and
# tests/bench/link.  Sourced, POSIX sh.  The caller sets BENCH (the bench
# binary), D (its private temp dir), REPEAT and GUARD (seconds, a hard stop
# for one client run).

say() { printf '%s\n' "$*" >&2; }

# wait_sock PATH: up to 10 s for a listening socket to appear.
wait_sock() {
	_ws=0
	while [ ! -S "$1" ]; do
		_ws=$((_ws + 1))
		[ "$_ws" -gt 100 ] && return 1
		sleep 0.1
	done
	return 0
}

# Memory of a process tree, in KiB.  Pss divides shared pages among the
# processes sharing them, so forked socat children are not charged the whole
# socat binary and libc each; RSS is printed too for comparison.
descendants() {
	grep -s '^PPid:' /proc/[0-9]*/status 2>/dev/null | awk -F'[/\t]' -v root="$1" '
		{ kids[$NF] = kids[$NF] " " $3 }
		END {
			q[n = 1] = root
			for (i = 1; i <= n; i++) {
				print q[i]
				m = split(kids[q[i]], a, " ")
				for (j = 1; j <= m; j++)
					q[++n] = a[j]
			}
		}'
}
tree_mem() { # tree_mem PID Pss|VmRSS
	_files=
	for _p in $(descendants "$1"); do
		if [ "$2" = Pss ]; then
			_files="$_files /proc/$_p/smaps_rollup"
		else
			_files="$_files /proc/$_p/status"
		fi
	done
	# A child that exits meanwhile just drops out of the sum.
	# shellcheck disable=SC2086 # one word per file
	awk -v k="$2:" '$1 == k { s += $2 } END { print s + 0 }' $_files 2>/dev/null
}

kv() { sed -n "s/^$1=//p" "$2"; }

# median_run KEY ARGS...: run `bench ARGS` REPEAT times, print the output
# of the run whose KEY is the median.
median_run() {
	_key=$1; shift
	_i=0
	while [ "$_i" -lt "$REPEAT" ]; do
		timeout "$GUARD" "$BENCH" "$@" >"$D/run.$_i" || return 1
		_i=$((_i + 1))
	done
	_pick=$(for f in "$D"/run.*; do echo "$(kv "$_key" "$f") $f"; done | sort -n |
		awk -v n="$REPEAT" 'NR == int((n + 1) / 2) { print $2 }')
	cat "$_pick"
	rm -f "$D"/run.*
}

# ratio A B: A/B as "1.23x", or "-" when either is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'
}
