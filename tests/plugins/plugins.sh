#!/bin/sh
# tests/plugins/plugins.sh - the test plugins in a real brokerd.
#
# One plugin dir holds the example and the broken plugins.  The broker must
# refuse each broken one with a log line naming the file and the exact
# reason, load small_struct (older, shorter table) without seeing the fields
# past its struct_size, keep serving, and relay through the example's echo:
# scheme.  A config file that sets plugins.init_fails.x makes init_fails load.
. "$(dirname "$0")/../integration/lib.sh"
plan 18

TP=$top_builddir/tests/plugins/.libs
for p in example bad_abi no_symbol init_fails small_struct; do
	[ -e "$TP/$p.so" ] || bail "test plugin $p not built ($TP/$p.so; run make check)"
done

start_broker --plugin-dir "$TP"

check "bad_abi refused: ABI major named" grep -q "bad_abi.so: plugin ABI major 2, this broker speaks 1" "$BROKER_LOG"
check "no_symbol refused: missing entry named" grep -q "no_symbol.so: .*no broker_plugin_entry" "$BROKER_LOG"
check "init_fails refused with its reason" \
	grep -q "init_fails.so: .*example failure: option x is required" "$BROKER_LOG"
check "the broker keeps running after refusing plugins" broker_alive

ctl plugin list >"$T/list.out" 2>&1
check "small_struct loaded from a short table" grep -q "small_struct" "$T/list.out"
check "fields past struct_size stay invisible" sh -c "! grep -q 'small-struct-leak' '$T/list.out'"
check "echo plugin loaded" grep -q "echo" "$T/list.out"
check "refused plugins are not listed" sh -c "! grep -Eq 'bad_abi|no_symbol|init_fails' '$T/list.out'"

ctl plugin help echo >"$T/help.out" 2>&1
check "plugin help lists the echo options" grep -q "max_sessions" "$T/help.out"

if ctl route add echo --listen "unix://$T/echo.sock" --connect echo:x >"$T/route.log" 2>&1; then
	pass "route to echo: added"
	check "1 MiB through the echo plugin comes back intact" \
		"$XFER" send "unix:$T/echo.sock" 1048576 --expect echo --timeout 30
	check "20 concurrent echo sessions" "$XFER" concurrent "unix:$T/echo.sock" 20 65536 --timeout 30
else
	fail "route to echo: added ($(cat "$T/route.log"))"
fi
check "echo cannot listen: route refused" sh -c \
	"! '$BROKERCTL' --runtime-dir '$T/run' route add bad --listen echo:x --connect 'unix://$T/none.sock' >/dev/null 2>&1"
check "unload echo" ctl plugin unload echo
check "the broker survives unloading a plugin with a route" broker_alive
stop_broker
check "clean stop after the plugin tests (exit 0)" [ "$STOP_RC" = 0 ]

# With its required option set, init_fails loads.
printf '{ "plugins": { "init_fails": { "x": "given" } } }\n' >"$T/conf.json"
start_broker --plugin-dir "$TP" --config "$T/conf.json"
ctl plugin list >"$T/list2.out" 2>&1
check "init_fails loads once option x is set" grep -q "init_fails" "$T/list2.out"
stop_broker
check "clean stop of the broker with init_fails loaded (exit 0)" [ "$STOP_RC" = 0 ]

finish
