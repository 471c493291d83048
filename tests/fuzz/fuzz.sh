#!/bin/sh
# fuzz.sh - `make check` entry for the libFuzzer targets: build them with
# clang against this build tree (tests/fuzz/run) and run each for a short,
# bounded time (FUZZ_SECONDS, default 15), starting from its checked-in
# corpus (tests/fuzz/corpus/TARGET).  TAP: one result per target.  Without
# clang or libFuzzer it skips, which tests/expected-skips does not allow:
# scripts/bootstrap installs both.  Longer runs: tests/fuzz/run BUILD_DIR.
# FUZZ_REPLAY=1 (scripts/run-tests sets it for its sanitizer build, which
# would only repeat the same fuzzing) runs the checked-in corpus once instead.
here=$(cd "$(dirname "$0")" && pwd)
builddir=${top_builddir:-$(pwd)}
targets=$(cd "$here" && ls fuzz_*.c | sed 's/\.c$//')
set -- $targets
echo "1..$#"
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
export FUZZ_SECONDS
n=0 failed=0
for t in $targets; do
	n=$((n + 1))
	out=$("$here/run" "$builddir" "$t" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	case $rc in
	0) echo "ok $n - $t: $(echo "$out" | grep "^ok: " | sed 's/^ok: *//' | tr -s ' ')" ;;
	77)
		why=$(echo "$out" | sed -n 's/^SKIP: //p' | head -n 1)
		while [ "$n" -le $# ]; do echo "ok $n # SKIP $why"; n=$((n + 1)); done
		exit "$failed" ;;
	*) echo "not ok $n - $t (exit $rc): $(echo "$out" | grep -m1 '^FAIL' )"; failed=1 ;;
	esac
done
exit "$failed"
