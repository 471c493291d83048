# tests/integration/bounds_lib.sh - helpers for the tests of what hostile
# peers and clients can make a broker hold (link_bounds, mapping_bounds,
# http_bounds).  Sourced after lib.sh.
#
# "brokerctl status answers within 2 s during a flood" is about the broker's
# event loop, not about a machine busy with other test runs: the broker under
# test and brokerctl run at nice -10 (the tests run as root), the attacker at
# nice 19 (`nice -n 19 "$LINKPEER" ...`).

# The bound on one `brokerctl status`: 2 s.  A sanitizer build runs several
# times slower (brokerctl's own start included) on a machine the whole
# sanitizer suite keeps busy: there it is 8 s, still far below what a
# blocked loop shows (the stalls fixed here were 13 s and forever).
# The same 8 s holds on a machine whose load average is more than twice its
# CPUs (other test runs, builds): 2 s scaled by load / (2 x CPUs), at most 8 s.
STATUS_LIMIT_MS=2000
grep -q "__asan_init\|__ubsan_handle" "$BROKERD" 2>/dev/null && STATUS_LIMIT_MS=8000
STATUS_LIMIT_MS=$(awk -v lim="$STATUS_LIMIT_MS" -v cpus="$(nproc 2>/dev/null || echo 1)" \
	'{ f = $1 / (2 * cpus); if (f > 1) lim = int(lim * f); if (lim > 8000) lim = 8000; print lim; exit }' \
	/proc/loadavg 2>/dev/null || echo "$STATUS_LIMIT_MS")
[ "$STATUS_LIMIT_MS" -gt 2000 ] 2>/dev/null && echo "# brokerctl status limit ${STATUS_LIMIT_MS} ms (load $(cut -d' ' -f1 /proc/loadavg), $(nproc) CPUs, $(basename "$BROKERD"))"

# prioritize PID: run the broker under test ahead of other work on the machine.
prioritize() { renice -n -10 -p "$1" >/dev/null 2>&1 || true; }

# status_ms RUNDIR: how long `brokerctl status` on RUNDIR takes (ms), or "failed".
status_ms() {
	_s0=$(date +%s%N)
	if nice -n -10 timeout $((STATUS_LIMIT_MS / 1000 + 3)) "$BROKERCTL" --runtime-dir "$1" \
		--timeout $((STATUS_LIMIT_MS / 1000)) status >/dev/null 2>&1; then
		echo $((($(date +%s%N) - _s0) / 1000000))
	else
		echo failed
	fi
}
