#!/bin/sh
# The state database and its WAL files are the user's alone (issue 9, case
# 8: broker.db, broker.db-wal and broker.db-shm were 0644, readable by every
# local user, with the routes and the peer's addresses in them):
#  (a) a fresh broker: broker.db, -wal and -shm are 0600 (the lock file too);
#  (b) a state dir left by an older broker, with a 0644 database and 0666
#      WAL files: brokerd makes them 0600 at start, and keeps the data;
#  (c) a read-only (0444) database is never made writable: brokerd still
#      says it is read-only (run as nobody when the test is root);
#  (d) the user nobody cannot read broker.db (when the test runs as root).
. "$(dirname "$0")/lib.sh"
plan 8

mode() { stat -c %a "$1" 2>/dev/null; }
all_private() {
	for _f in "$@"; do
		[ "$(mode "$_f")" = 600 ] || return 1
	done
}

# ---- (a) fresh ----
start_broker
add_route r1 "unix://$T/r1.sock" "unix://$T/nowhere.sock"
db="$T/state/broker.db"
if [ -e "$db-wal" ] && [ -e "$db-shm" ] && all_private "$db" "$db-wal" "$db-shm" "$db.lock"; then
	pass "(a) broker.db, -wal, -shm and .lock are 0600"
else
	fail "(a) modes: db $(mode "$db"), wal $(mode "$db-wal"), shm $(mode "$db-shm"), lock $(mode "$db.lock")"
fi
stopped_ok

# ---- (b) files from an older broker ----
chmod 644 "$db"
: >"$db-wal"
: >"$db-shm"
chmod 666 "$db-wal" "$db-shm"
start_broker
if all_private "$db" "$db-wal" "$db-shm"; then pass "(b) 0644/0666 state files are 0600 after the start"
else fail "(b) modes after restart: db $(mode "$db"), wal $(mode "$db-wal"), shm $(mode "$db-shm")"; fi
route_listed r1 && pass "(b) the stored route is still there" || fail "(b) the route r1 was lost"
stopped_ok

# ---- (c) a read-only database stays read-only ----
# As a user who is not root (root writes a 0444 file anyway): nobody, when we are root.
as_user=
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null 2>&1 || bail "(c) needs setpriv to run as nobody"
	as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
	chmod 755 "$T"
fi
mkdir -m 700 "$T/ro" "$T/ro-run"
cp "$db" "$T/ro/broker.db"
chmod 444 "$T/ro/broker.db"
[ -n "$as_user" ] && chown -R 65534:65534 "$T/ro" "$T/ro-run"
$as_user "$BROKERD" --runtime-dir "$T/ro-run" --state-dir "$T/ro" $PLUGIN_ARGS >"$T/ro.log" 2>&1 &
p=$!
record $p
wait_exit $p 10 || { kill $p; fail "(c) brokerd on a read-only database did not exit"; }
case $(mode "$T/ro/broker.db") in
444 | 400) pass "(c) the 0444 database was not made writable (now $(mode "$T/ro/broker.db"))" ;;
*) fail "(c) a 0444 database is now $(mode "$T/ro/broker.db")" ;;
esac
grep -q "read-only" "$T/ro.log" && pass "(c) brokerd still says it is read-only: $(grep -o 'read-only.*' "$T/ro.log" | head -n 1 | cut -c1-100)" ||
	fail "(c) $(tail -n 2 "$T/ro.log" | tr '\n' ' ')"

# ---- (d) another user ----
if [ -n "$as_user" ]; then
	chmod 755 "$T/state"   # let nobody reach the file, so only its mode decides
	if $as_user cat "$db" >/dev/null 2>"$T/nobody.err"; then
		fail "(d) nobody could read broker.db"
	else
		pass "(d) nobody cannot read broker.db: $(head -n 1 "$T/nobody.err")"
	fi
	chmod 700 "$T/state"
else
	fail "(d) needs root to try reading broker.db as another user (setpriv)"
fi
finish
