# tests/windows/tap_lib.sh - sourced by the Windows tests that run wine
# programs directly (no brokers of tests/integration/lib.sh): one TAP
# result per ok/notok, bail ends the test as a failure; exit with $FAILED.
n=0
FAILED=0
ok() { n=$((n + 1)); printf "ok %s - %s\n" "$n" "$*"; }
notok() { n=$((n + 1)); printf "not ok %s - %s\n" "$n" "$*"; FAILED=1; }
bail() { echo "not ok $((n + 1)) - $*"; exit 1; }
