#!/bin/sh
# SIGHUP (and brokerctl reload) re-read the config file: a route added to
# the file appears and relays; a broken file keeps the daemon and routes up.
# A setting only a restart applies (http_listen) keeps its running value,
# and the reply, the log and status say so.
. "$(dirname "$0")/lib.sh"
plan 21

serve echo echo "unix:$T/echo.sock"
CONF="$T/broker.json"
hport=$(free_port) || bail "no free port"
HTTP_LISTEN="127.0.0.1:$hport"
write_conf() { # write_conf ROUTE-JSON...
	{
		echo '{ "log_level": "debug", "http_listen": "'"$HTTP_LISTEN"'", "routes": ['
		_sep=""
		for _r in "$@"; do printf '%s    %s\n' "$_sep" "$_r"; _sep=","; done
		echo '] }'
	} >"$CONF"
}
R1="{ \"name\": \"c1\", \"listen\": \"unix://$T/c1.sock\", \"connect\": \"unix://$T/echo.sock\" }"
port=$(free_port) || bail "no free port"
R2="{ \"name\": \"c2\", \"listen\": \"tcp://127.0.0.1:$port\", \"connect\": \"unix://$T/echo.sock\", \"max_connections\": 10 }"
R3="{ \"name\": \"c3\", \"listen\": \"unix://$T/c3.sock\", \"connect\": \"unix://$T/echo.sock\" }"

write_conf "$R1"
# shellcheck disable=SC2086
if "$BROKERD" $PLUGIN_ARGS --config "$CONF" --check-config >"$T/check.out" 2>&1; then pass "--check-config accepts a good file"
else fail "--check-config on a good file: $(cat "$T/check.out")"; fi
echo '{ "routes": [ { "name": ' >"$T/bad.json"
if "$BROKERD" --config "$T/bad.json" --check-config >"$T/check.out" 2>&1; then
	fail "--check-config accepts broken JSON"
elif grep -q "bad.json" "$T/check.out"; then pass "--check-config rejects broken JSON, naming the file"
else fail "--check-config: message does not name the file: $(cat "$T/check.out")"; fi

start_broker --config "$CONF"
check "route c1 from the config file is listed" route_listed c1
# At info (what a user sees by default), the route is named once.
n=$(grep -v " debug " "$BROKER_LOG" | grep -c "c1")
if [ "$n" -eq 1 ]; then pass "the start logs route c1 once at info: $(grep -v " debug " "$BROKER_LOG" | grep c1 | cut -c 26-)"
else fail "the start logs route c1 $n times at info: $(grep -v " debug " "$BROKER_LOG" | grep c1 | cut -c 26- | tr '\n' ' ')"; fi
check "c1 relays" "$XFER" send "unix:$T/c1.sock" 1M --expect echo

write_conf "$R1" "$R2"
kill -HUP "$BROKER_PID"
check "after SIGHUP, c2 from the file is listed" wait_until 10 route_listed c2
check "c2 relays" wait_until 5 "$XFER" send "tcp:127.0.0.1:$port" 1M --expect echo --timeout 5
check "c1 still relays" "$XFER" send "unix:$T/c1.sock" 1M --expect echo

write_conf "$R1" "$R2" "$R3"
if ctl reload >"$T/ctl.out" 2>&1; then pass "brokerctl reload exits 0"
else fail "brokerctl reload: $(cat "$T/ctl.out")"; fi
check "after brokerctl reload, c3 is listed" wait_until 10 route_listed c3
check "c3 relays" wait_until 5 "$XFER" send "unix:$T/c3.sock" 64K --expect echo --timeout 5

# http_listen changes in the file: the server stays where it is, and says why.
hport2=$(free_port) || bail "no free port"
HTTP_LISTEN="127.0.0.1:$hport2"
write_conf "$R1" "$R2" "$R3"
ctl reload >"$T/ctl.out" 2>&1; rc=$?
want="http_listen: needs a restart; 127.0.0.1:$hport stays in effect (configured now: 127.0.0.1:$hport2)"
if [ "$rc" = 0 ] && grep -qxF "$want" "$T/ctl.out"; then pass "reload names http_listen as needing a restart"
else fail "reload with a new http_listen (exit $rc), want '$want': $(cat "$T/ctl.out")"; fi
ctl status >"$T/status.out" 2>&1
if grep -qE "^http +127\.0\.0\.1:$hport\$" "$T/status.out"; then pass "status shows the http_listen in effect"
else fail "status after the reload: $(cat "$T/status.out")"; fi
check "/health still answers on the address in effect" curl -sf -m 5 "http://127.0.0.1:$hport/health"
if grep -qF "reload: $want" "$BROKER_LOG"; then pass "the log says http_listen needs a restart"
else fail "no 'reload: $want' in the log: $(grep reload "$BROKER_LOG" | tail -n 3)"; fi
ctl --json reload >"$T/ctl.out" 2>&1
if jq -e --arg w "$want" '.ok and .needs_restart == [$w]' "$T/ctl.out" >/dev/null 2>&1; then pass "reload --json lists it in needs_restart"
else fail "reload --json: $(cat "$T/ctl.out")"; fi

cp "$T/bad.json" "$CONF"
kill -HUP "$BROKER_PID"
sleep 1
check "broken config on SIGHUP: daemon keeps running" broker_alive
check "broken config on SIGHUP: daemon still answers" ctl_ok
check "broken config on SIGHUP: c1 still relays" "$XFER" send "unix:$T/c1.sock" 64K --expect echo
stopped_ok
check "no sanitizer report in the broker log" sanitizer_clean "$BROKER_LOG"
finish
