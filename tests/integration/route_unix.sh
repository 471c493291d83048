#!/bin/sh
# A local unix -> unix route moves 64 MiB each way with matching checksums,
# feeds a sink byte-exactly, and honours ?mode= on the listening socket.
. "$(dirname "$0")/lib.sh"
plan 11

start_broker
serve echo echo "unix:$T/echo.sock"
serve sink sink "unix:$T/sink.sock"

add_route u-echo "unix://$T/in-echo.sock?mode=0660" "unix://$T/echo.sock"
add_route u-sink "unix://$T/in-sink.sock" "unix://$T/sink.sock"
check "route list shows u-echo" route_listed u-echo
check "route list shows u-sink" route_listed u-sink

if "$XFER" send "unix:$T/in-echo.sock" 64M --expect echo >"$T/send1.out" 2>&1; then
	pass "64 MiB each way through unix->unix echo route ($(sed 's/.* in /in /' "$T/send1.out"))"
else
	fail "64 MiB echo through unix->unix route: $(cat "$T/send1.out")"
fi

if "$XFER" send "unix:$T/in-sink.sock" 64M --seed 7 --expect sink >"$T/send2.out" 2>&1; then
	pass "64 MiB into a sink arrives with the same sha256"
else
	fail "64 MiB into a sink: $(cat "$T/send2.out")"
fi

if "$XFER" send "unix:$T/in-echo.sock" 0 --expect echo >"$T/send3.out" 2>&1; then
	pass "an empty connection (immediate EOF) closes cleanly"
else
	fail "empty connection: $(cat "$T/send3.out")"
fi

mode=$(stat -c %a "$T/in-echo.sock" 2>/dev/null)
if [ "$mode" = 660 ]; then pass "?mode=0660 applied to the listening socket"
else fail "?mode=0660: socket mode is '$mode'"; fi

ctl route rm u-sink >"$T/ctl.out" 2>&1 || fail "route rm u-sink: $(cat "$T/ctl.out")"
if route_listed u-sink; then fail "route rm: u-sink still listed"
else pass "route rm removes the route from route list"; fi
if "$XFER" send "unix:$T/in-sink.sock" 10 --timeout 5 >/dev/null 2>&1; then
	fail "route rm: the listener still accepts and relays"
else pass "route rm closes the listener"; fi

check "broker still running" broker_alive
stopped_ok
check "no sanitizer report in the broker log" sanitizer_clean "$BROKER_LOG"
finish
