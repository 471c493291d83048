# tests/integration/mapping_lib.sh - helpers for the mapping tests: a guest
# broker G running the static_watch test watcher (tests/plugins/static_watch.c)
# on a JSON file, linked over unix to a host broker H that serves G's
# mappings.  Sourced after lib.sh and link_lib.sh.  POSIX sh (dash).
#
#   G: --link-listen unix://$T/link.sock --watch static_watch,file=$PORTS
#   H: --link-connect unix://$T/link.sock
#
# The static file is built from entries added with `pe` (one port entry) and
# written atomically by `ports_write`; `ports_reload` writes it and sends
# SIGHUP to G (static_watch reports the file again as a full resync).

UDPECHO="$top_builddir/tests/tools/udpecho"
SW_SO="$top_builddir/tests/plugins/.libs/static_watch.so"
[ -e "$SW_SO" ] || bail "static_watch test plugin not built ($SW_SO; run make check)"
[ -x "$UDPECHO" ] || bail "udpecho test helper not built ($UDPECHO; run make check)"
command -v ss >/dev/null 2>&1 || bail "ss (iproute2) not installed (scripts/bootstrap installs it)"
command -v jq >/dev/null 2>&1 || bail "jq not installed (scripts/bootstrap installs it)"

# A private plugin dir with only the watcher (the other test plugins in
# tests/plugins/.libs are deliberately broken and would only add log noise).
mkdir -p "$T/wplug"
ln -s "$SW_SO" "$T/wplug/static_watch.so"
PORTS="$T/ports.json"
LINK="unix://$T/link.sock"
# Short keepalive so a dead guest is noticed quickly; fast redial.
MAP_KA="--link-keepalive 1 --link-timeout 3"
MAP_DIAL="--link-backoff-max 1"

# --- the static file ----------------------------------------------------------

# ports_reset: start a new (empty) set of owners.
ports_reset() { : >"$T/ports.ent"; }
# pe OWNER PROTO HOST_IP HOST_PORT CONNECT [DESCRIPTION]: add one port entry
# (CONNECT is one address; HOST_IP and CONNECT are written as JSON strings
# verbatim, HOST_PORT as a JSON number).
pe() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:-}" >>"$T/ports.ent"; }
# pe_drop OWNER: remove every entry of OWNER.
pe_drop() { awk -F'\t' -v o="$1" '$1 != o' "$T/ports.ent" >"$T/ports.ent.new" && mv "$T/ports.ent.new" "$T/ports.ent"; }
# ports_write: turn the entries into the static_watch JSON (owners in first-seen order).
ports_write() {
	awk -F'\t' '
		!($1 in seen) { seen[$1] = 1; order[++n] = $1; desc[$1] = $6 }
		{ e = sprintf("{\"proto\": \"%s\", \"host_ip\": \"%s\", \"host_port\": %s, \"connect\": [\"%s\"]}", $2, $3, $4, $5)
		  if (cnt[$1]++) ports[$1] = ports[$1] ", " e; else ports[$1] = e }
		END {
			printf "{"
			for (i = 1; i <= n; i++)
				printf "%s\n \"%s\": {\"description\": \"%s\", \"ports\": [%s]}", (i > 1 ? "," : ""), order[i], desc[order[i]], ports[order[i]]
			printf "\n}\n"
		}' "$T/ports.ent" >"$PORTS.tmp" && mv "$PORTS.tmp" "$PORTS"
}
# ports_reload: write the file and make G report it again.
ports_reload() { ports_write; kill -HUP "$PID_G"; }

# --- brokers ------------------------------------------------------------------

start_guest() { bstart G --link-listen "$LINK" --plugin-dir "$T/wplug" $MAP_KA --watch "static_watch,file=$PORTS" "$@"; }
start_host() { bstart H --link-connect "$LINK" $MAP_KA $MAP_DIAL "$@"; }

# --- what the host serves -----------------------------------------------------

# tcp_listening ADDR: ss shows a TCP listener on exactly ADDR (127.0.0.1:P, [::1]:P).
tcp_listening() { ss -Hltn 2>/dev/null | awk -v a="$1" '$4 == a { f = 1 } END { exit !f }'; }
tcp_not_listening() { ! tcp_listening "$1"; }
# port_listening PORT: any TCP listener on PORT (any address).
port_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
port_not_listening() { ! port_listening "$1"; }
udp_bound() { ss -Hlun 2>/dev/null | awk -v a="$1" '$4 == a { f = 1 } END { exit !f }'; }
# listening_in_range LO HI: how many TCP listeners have a local port in [LO, HI].
listening_in_range() {
	ss -Hltn 2>/dev/null | awk -v lo="$1" -v hi="$2" '{ p = $4; sub(/.*:/, "", p); if (p + 0 >= lo && p + 0 <= hi) n++ } END { print n + 0 }'
}

# echo_ok ADDR [BYTES]: an echo round trip through ADDR (tcp:HOST:PORT) with matching checksums.
echo_ok() { "$XFER" send "$1" "${2:-4096}" --expect echo --timeout 5 --io-timeout 3; }
# sink_ok ADDR [BYTES]: the bytes reach a sink server (its count+sha256 reply matches).
sink_ok() { "$XFER" send "$1" "${2:-4096}" --expect sink --timeout 5 --io-timeout 3; }
# closed_without_data ADDR (tcp:HOST:PORT): the listener is there, accepts a
# client and ends the connection (close or reset) within a bounded time
# without sending it a byte.  A refused connection (no listener) fails: a
# mapping that keeps its listener while its target is unreachable must
# still be listening.
closed_without_data() {
	_cw=${1#tcp:}
	tcp_listening "$_cw" || { echo "nothing listens on $_cw" >"$T/rc.out"; return 1; }
	"$XFER" send "$1" 1K --expect any --timeout 8 --io-timeout 6 >"$T/rc.out" 2>&1
	_rc=$?
	grep -q "connect.*refused" "$T/rc.out" && return 1
	if [ "$_rc" -eq 0 ]; then grep -q "received 0 " "$T/rc.out"
	else ! grep -q "time limit\|no progress" "$T/rc.out"; fi
}
# stays SECONDS COMMAND...: COMMAND holds on every look (every 0.2 s) for
# SECONDS of wall time; fails at the first look where it does not.
stays() {
	_sd=$(($(now_ms) + $1 * 1000)); shift
	while [ "$(now_ms)" -lt "$_sd" ]; do
		"$@" >"$T/stays.out" 2>&1 || return 1
		sleep 0.2
	done
}

# --- mapping list --json, read with jq -------------------------------------------

# json_probe NAME: broker NAME's `mapping list --json` is a JSON array, or bail
# (every JSON check below depends on it).
json_probe() {
	bctl "$1" mapping list --json >"$T/$1.probe.json" 2>&1 &&
		jq -e 'type == "array"' "$T/$1.probe.json" >/dev/null 2>&1 ||
		bail "$1: 'brokerctl mapping list --json' is not a JSON array: $(head -c 300 "$T/$1.probe.json")"
}
# mjson NAME: the mapping list of broker NAME into $T/NAME.map.json.
mjson() { bctl "$1" mapping list --json >"$T/$1.map.json" 2>"$T/$1.map.err"; }
# mq NAME JQ-EXPR [jq args...]: jq -e on broker NAME's mapping list.
mq() { _b=$1; _e=$2; shift 2; mjson "$_b" && jq -e "$@" "$_e" "$T/$_b.map.json" >/dev/null 2>&1; }
# mshow NAME FILTER [jq args]: print matching entries compactly (for messages).
mshow() { _b=$1; _e=$2; shift 2; mjson "$_b" && jq -c "$@" "[.[] | $_e | {owner, proto, host_ip, host_port, state, listen}]" "$T/$_b.map.json" 2>/dev/null | cut -c1-400; }
# jcheck DESCRIPTION NAME JQ-EXPR [jq args...]: a JSON check.
jcheck() {
	_d=$1; _b=$2; _e=$3; shift 3
	if mq "$_b" "$_e" "$@"; then pass "$_d"
	else fail "$_d: $(jq -c '[.[] | {owner, proto, host_ip, host_port, state, origin, listen}]' "$T/$_b.map.json" 2>/dev/null | cut -c1-600)"; fi
}
# jwait SECONDS DESCRIPTION NAME JQ-EXPR [jq args...]: like jcheck, but polls
# until the condition holds or SECONDS pass.
jwait() {
	_jw=$1; _d=$2; _b=$3; _e=$4; shift 4
	if within "$_jw" mq "$_b" "$_e" "$@"; then pass "$_d"
	else fail "$_d: $(jq -c '[.[] | {owner, proto, host_ip, host_port, state, origin, listen}]' "$T/$_b.map.json" 2>/dev/null | cut -c1-600)"; fi
}
# wait_json SECONDS NAME JQ-EXPR [jq args...]: poll until the JSON condition holds.
wait_json() {
	_ws=$1; shift
	within "$_ws" mq "$@"
}

# now_ms: wall clock in milliseconds.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# within SECONDS COMMAND...: retry COMMAND (every 0.1 s) until it succeeds or
# SECONDS of wall time have passed.  Unlike wait_until, which counts tries,
# this stays bounded when COMMAND itself takes seconds (a client timeout).
within() {
	_wd=$(($(now_ms) + $1 * 1000)); shift
	while :; do
		"$@" >"$T/within.out" 2>&1 && return 0
		if [ "$(now_ms)" -ge "$_wd" ]; then
			tail -n 3 "$T/within.out"   # the last try's complaint, for check's message
			return 1
		fi
		sleep 0.1
	done
}
