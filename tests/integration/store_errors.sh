#!/bin/sh
# A corrupt or too-new broker.db stops brokerd at startup with a clear
# message and is left untouched; a second brokerd on the same state dir is
# refused with a clear message.
. "$(dirname "$0")/lib.sh"
plan 9

# run_bad NAME STATE_DIR: run brokerd expecting it to refuse to start.
run_bad() {
	mkdir -p -m 700 "$T/$1-run"
	"$BROKERD" --runtime-dir "$T/$1-run" --state-dir "$2" $PLUGIN_ARGS >"$T/$1.log" 2>&1 &
	_p=$!
	record "$_p"
	if ! wait_exit "$_p" 15; then
		kill -TERM "$_p"
		wait_exit "$_p" 5 || kill -KILL "$_p"
		RUN_RC=running
		return
	fi
	RUN_RC=$WAIT_RC
}

# --- corrupt database ---
mkdir -p "$T/corrupt"
i=0
while [ $i -lt 200 ]; do echo "this is not an sqlite database, line $i"; i=$((i + 1)); done >"$T/corrupt/broker.db"
cp "$T/corrupt/broker.db" "$T/corrupt.orig"
run_bad corrupt "$T/corrupt"
if [ "$RUN_RC" = running ]; then fail "corrupt broker.db: brokerd kept running"
elif [ "$RUN_RC" -eq 0 ]; then fail "corrupt broker.db: brokerd exited 0"
elif [ "$RUN_RC" -gt 128 ]; then fail "corrupt broker.db: brokerd died of signal $((RUN_RC - 128))"
else pass "corrupt broker.db: brokerd exits $RUN_RC"; fi
if grep -Eqi 'corrupt|not a database|malformed' "$T/corrupt.log"; then
	pass "corrupt broker.db: message says so: $(grep -Ei 'corrupt|not a database|malformed' "$T/corrupt.log" | head -n 1)"
else fail "corrupt broker.db: no 'corrupt' in the message: $(tail -n 3 "$T/corrupt.log")"; fi
if cmp -s "$T/corrupt/broker.db" "$T/corrupt.orig"; then pass "corrupt broker.db left unchanged"
else fail "corrupt broker.db was modified"; fi

# --- database from a newer broker (schema version above ours) ---
python3 -c 'import sqlite3' 2>/dev/null || bail "python3 with its sqlite3 module is needed (scripts/bootstrap installs python3)"
mkdir -p "$T/newer"
python3 - "$T/newer/broker.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("create table future(x)")
c.execute("pragma user_version = 9999")
c.commit()
c.close()
PY
cp "$T/newer/broker.db" "$T/newer.orig"
run_bad newer "$T/newer"
if [ "$RUN_RC" != running ] && [ "$RUN_RC" -ne 0 ] && [ "$RUN_RC" -lt 128 ] &&
	grep -Eqi 'newer|version|schema' "$T/newer.log"; then
	pass "schema version 9999: refused: $(grep -Ei 'newer|version|schema' "$T/newer.log" | head -n 1)"
else
	fail "schema version 9999: exit $RUN_RC, log: $(tail -n 3 "$T/newer.log")"
fi
cmp -s "$T/newer/broker.db" "$T/newer.orig" && pass "too-new broker.db left unchanged" ||
	fail "too-new broker.db was modified"

# --- second broker on the same state dir ---
start_broker
run_bad second "$T/state"
if [ "$RUN_RC" != running ] && [ "$RUN_RC" -ne 0 ] && [ "$RUN_RC" -lt 128 ] &&
	grep -Eqi 'lock|already|in use|busy' "$T/second.log"; then
	pass "second brokerd on the same state dir refused: $(grep -Ei 'lock|already|in use|busy' "$T/second.log" | head -n 1)"
else
	fail "second brokerd on the same state dir: exit $RUN_RC, log: $(tail -n 3 "$T/second.log")"
fi
check "first broker still answers" ctl_ok
stopped_ok

# --- read-only database ---
# The database file is 0444 and belongs to the broker's user.  Root writes
# to it anyway, so as root brokerd runs as 'nobody' (setpriv) on a state and
# runtime dir owned by nobody; as an ordinary user it runs as itself.
mkdir -p "$T/ro-state" "$T/ro-run"
cp "$T/state/broker.db" "$T/ro-state/broker.db"
chmod 0444 "$T/ro-state/broker.db"
chmod 0700 "$T/ro-run"
AS=
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null 2>&1 || bail "setpriv (util-linux) not installed"
	chown -R nobody:nogroup "$T/ro-state" "$T/ro-run" || bail "chown to nobody"
	chmod 0711 "$T"
	AS="setpriv --reuid=nobody --regid=nogroup --clear-groups"
fi
# shellcheck disable=SC2086
$AS "$BROKERD" --runtime-dir "$T/ro-run" --state-dir "$T/ro-state" $PLUGIN_ARGS >"$T/ro.log" 2>&1 &
_p=$!
record "$_p"
if ! wait_exit "$_p" 15; then
	kill -TERM "$_p"; wait_exit "$_p" 5 || kill -KILL "$_p"
	RUN_RC=running
else
	RUN_RC=$WAIT_RC
fi
chmod 0700 "$T"
if [ "$RUN_RC" != running ] && [ "$RUN_RC" -ne 0 ] && [ "$RUN_RC" -lt 128 ] &&
	grep -Eqi 'read-only|readonly' "$T/ro.log"; then
	pass "read-only broker.db${AS:+ (brokerd as nobody)}: refused: $(grep -Ei 'read-only|readonly' "$T/ro.log" | head -n 1 | cut -d' ' -f2-)"
else fail "read-only broker.db${AS:+ (brokerd as nobody)}: exit $RUN_RC, log: $(tail -n 3 "$T/ro.log")"; fi
for l in "$T"/*.log; do sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"; done
finish
