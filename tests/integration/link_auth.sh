#!/bin/sh
# tests/integration/link_auth.sh - which carriers skip the shared secret
# (broker-link(7) Authentication), with real brokers and another local user
# (nobody, through setpriv):
#  (a) an abstract socket listener (unix://@name) of a root broker: a peer
#      running as root needs no secret (linkpeer sees auth_required=0), a
#      peer running as nobody does (auth_required=1); a brokerd run by
#      nobody without the secret never links, and cannot reach what the
#      link would reach; with a copy of the secret it links, authenticated.
#  (b) a unix dial into a directory others may write: the dialer demands
#      the secret and says why; with the same secret on both sides the link
#      is up and authenticated; from a private directory it needs none.
#  (c) a unix dial to a socket another user serves: the dialer demands the
#      secret and never links to it.
#  (d) ?auth=none is refused at start with the reason.
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 16
[ -x "$LINKPEER" ] || bail "test helper not built ($LINKPEER; run make check)"
[ "$(id -u)" = 0 ] || bail "needs root (to run a second brokerd as nobody)"
command -v setpriv >/dev/null 2>&1 || bail "setpriv (util-linux) not installed"
id nobody >/dev/null 2>&1 || bail "no user nobody"
NUID=$(id -u nobody)
NGID=$(id -g nobody)
# as_nobody CMD...: run CMD as nobody (no supplementary groups).
as_nobody() { setpriv --reuid="$NUID" --regid="$NGID" --clear-groups "$@"; }
# Let nobody reach its own directories under $T (and nothing else there).
chmod 0711 "$T"

SECRET="$T/good.secret"
make_secret "$SECRET"
serve echo echo "unix:$T/echo.sock"
ABS="brk-auth-$$"

# bstart_nobody NAME ARGS...: like bstart, as nobody, runtime and state in $T/NAME (owned by nobody).
bstart_nobody() {
	_b=$1; shift
	mkdir -p "$T/$_b"
	chown "$NUID:$NGID" "$T/$_b"
	chmod 0700 "$T/$_b"
	_log="$T/$_b.1.log"
	setpriv --reuid="$NUID" --regid="$NGID" --clear-groups "$BROKERD" --runtime-dir "$T/$_b" --state-dir "$T/$_b" \
		$LINK_PLUGIN_ARGS --log-level debug "$@" >"$_log" 2>&1 &
	_pid=$!
	record "$_pid"
	eval "PID_$_b=$_pid; LOG_$_b=\$_log"
	wait_until 15 as_nobody "$BROKERCTL" --runtime-dir "$T/$_b" status ||
		bail "brokerd $_b (as nobody) did not start: $(tail -n 3 "$_log" | tr '\n' ' ')"
}
nctl() { _b=$1; shift; as_nobody "$BROKERCTL" --runtime-dir "$T/$_b" "$@"; }
# nlink_field NAME FIELD: like link_field for a broker run by nobody (role connect).
nlink_field() {
	nctl "$1" link status --json >"$T/$1.link.json" 2>&1
	sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$T/$1.link.json" | head -n 1
}

# ---- (a) an abstract listener ---------------------------------------------------
bstart A --link-listen "unix://@$ABS" --peer-allow-connect "unix://$T/echo.sock" --link-secret "$SECRET"
grep -q "accepting links on unix://@$ABS (authentication required from peers not running as this user or root)" \
	"$(blog A)" && pass "(a) A says who must prove the secret: $(grep -o 'accepting links on.*' "$(blog A)")" ||
	fail "(a) A's listener line: $(grep 'accepting links' "$(blog A)")"
"$LINKPEER" hello "unix:@$ABS" --wait-ms 1500 >"$T/h-root.out" 2>&1
grep -q "auth_required=0" "$T/h-root.out" && pass "(a) a peer running as root needs no secret (auth_required=0)" ||
	fail "(a) root peer: $(tr '\n' ' ' <"$T/h-root.out")"
as_nobody "$LINKPEER" hello "unix:@$ABS" --wait-ms 1500 >"$T/h-nobody.out" 2>&1
grep -q "auth_required=1" "$T/h-nobody.out" && pass "(a) a peer running as nobody must prove it (auth_required=1)" ||
	fail "(a) nobody peer: $(tr '\n' ' ' <"$T/h-nobody.out")"

n0=$(grep -c "authentication failed" "$(blog A)")
bstart_nobody N --link-connect "unix://@$ABS" --link-backoff-max 1
wait_until 10 sh -c "[ \$(grep -c 'authentication failed' '$(blog A)') -gt $n0 ]" &&
	pass "(a) nobody's brokerd without A's secret: A says '$(grep -o 'authentication failed.*' "$(blog A)" | tail -n 1 | cut -c1-90)'" ||
	fail "(a) A did not refuse nobody's broker: $(grep -E 'N|link' "$(blog A)" | tail -n 2)"
sleep 2
st=$(nlink_field N state)
[ "$st" != up ] && pass "(a) nobody's link is not up (state $st: $(nlink_field N last_error | cut -c1-80))" ||
	fail "(a) nobody's broker linked to A without the secret"
nctl N route add steal --listen "unix://$T/N/steal.sock" --connect "peer:unix://$T/echo.sock" >/dev/null 2>&1
as_nobody "$XFER" send "unix:$T/N/steal.sock" 64K --expect echo --io-timeout 5 --timeout 10 >"$T/steal.out" 2>&1 &&
	fail "(a) nobody reached A's side through the link: $(cat "$T/steal.out")" ||
	pass "(a) nobody's route through the link reaches nothing"
link_up A accepted && fail "(a) A shows an accepted link up" || pass "(a) A holds no link from nobody"
bstop N
cp "$SECRET" "$T/N.secret"
chown "$NUID:$NGID" "$T/N.secret"
rm -rf "$T/N"
bstart_nobody N --link-connect "unix://@$ABS" --link-backoff-max 1 --link-secret "$T/N.secret"
n_up() { [ "$(nlink_field N state)" = up ]; }
wait_until 15 n_up
if [ "$(nlink_field N state)" = up ] && [ "$(link_field A accepted authenticated)" = true ]; then
	pass "(a) with a copy of the secret nobody's broker links, and A authenticated it"
else fail "(a) with the secret: state $(nlink_field N state), A's authenticated $(link_field A accepted authenticated)"; fi
bstop N
bstop A

# ---- (b) a dial into a directory others can write ----------------------------------
mkdir -p "$T/pub"
chmod 0777 "$T/pub"
bstart L --link-listen "unix://$T/pub/link.sock" --peer-allow-connect "unix://$T/echo.sock"
bstart D --link-connect "unix://$T/pub/link.sock" --link-backoff-max 1
if wait_log D "must prove the shared secret.*writable by others" 10 || wait_log D "refusing the link" 1; then
	pass "(b) the dialer demands the secret: '$(grep -o "directory $T/pub is writable by others[^;]*" "$(blog D)" | head -n 1)'"
else fail "(b) D did not say why it needs the secret: $(grep -E 'secret|pub' "$(blog D)" | tail -n 2)"; fi
sleep 2
[ "$(link_field D connect state)" != up ] && pass "(b) with different secrets the link is not up: $(link_field D connect last_error | cut -c1-90)" ||
	fail "(b) D linked into a world-writable directory without the same secret"
bstop D
bstop L
bstart L --link-listen "unix://$T/pub/link.sock" --link-secret "$SECRET" --peer-allow-connect "unix://$T/echo.sock"
bstart D --link-connect "unix://$T/pub/link.sock" --link-backoff-max 1 --link-secret "$SECRET"
if wait_link_up D 15 connect && [ "$(link_field D connect authenticated)" = true ]; then
	pass "(b) with the same secret on both sides the link is up and authenticated"
else fail "(b) shared secret: state $(link_field D connect state), $(link_field D connect last_error)"; fi
broute D via "unix://$T/via.sock" "peer:unix://$T/echo.sock"
"$XFER" send "unix:$T/via.sock" 1M --expect echo --io-timeout 10 >"$T/via.out" 2>&1 &&
	pass "(b) and it relays ($(cut -c1-40 "$T/via.out"))" || fail "(b) relay: $(cat "$T/via.out")"
bstop D
bstop L
chmod 0755 "$T/pub"
bstart L --link-listen "unix://$T/pub/link.sock"
bstart D --link-connect "unix://$T/pub/link.sock" --link-backoff-max 1
if wait_link_up D 15 connect && [ "$(link_field D connect authenticated)" = false ]; then
	pass "(b) from a directory only root can write, no secret is needed (authenticated=false)"
else fail "(b) private dir: state $(link_field D connect state), authenticated $(link_field D connect authenticated)"; fi
bstop D
bstop L

# ---- (c) a socket another user serves ------------------------------------------------
mkdir -p "$T/npub"
chown "$NUID:$NGID" "$T/npub"
bstart_nobody M --link-listen "unix://$T/npub/link.sock"
bstart D --link-connect "unix://$T/npub/link.sock" --link-backoff-max 1
if wait_log D "must prove the shared secret.*(uid $NUID|owned by uid $NUID)" 10; then
	pass "(c) dialing a socket served by nobody, D demands the secret: '$(grep -Eo "(the process serving|$T/npub)[^;]*uid $NUID[^;)]*" "$(blog D)" | head -n 1)'"
else fail "(c) D did not demand the secret: $(grep -E 'secret|npub' "$(blog D)" | tail -n 2)"; fi
sleep 2
[ "$(link_field D connect state)" != up ] && pass "(c) D never links to nobody's socket" ||
	fail "(c) D linked to a socket another user serves"
bstop D
bstop M

# ---- (d) ?auth=none ---------------------------------------------------------------------
mkdir -p -m 700 "$T/X"
"$BROKERD" --runtime-dir "$T/X" --state-dir "$T/X" $LINK_PLUGIN_ARGS --link-listen "tcp://127.0.0.1:$(free_port)?auth=none" \
	>"$T/X.log" 2>&1 &
xp=$!
record "$xp"
if wait_exit "$xp" 15 && [ "$WAIT_RC" != 0 ] && grep -q "?auth=none is not accepted" "$T/X.log"; then
	pass "(d) ?auth=none is refused at start: $(grep -o '?auth=none is not accepted[^(]*' "$T/X.log" | head -n 1)"
else fail "(d) ?auth=none: exit ${WAIT_RC:-running}: $(tail -n 2 "$T/X.log")"; kill "$xp" 2>/dev/null; fi

for l in "$T"/*.log; do
	sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"
done
finish
