#!/bin/sh
# tcp -> unix and unix -> tcp routes move 64 MiB each way with matching
# checksums; the same over IPv6 loopback (no ::1 is a skip, which fails the
# run: it is not in tests/expected-skips).
. "$(dirname "$0")/lib.sh"
plan 6

start_broker
serve echo echo "unix:$T/echo.sock"
serve techo echo "tcp:127.0.0.1:0"
TECHO=$SERVE_ADDR

port=$(free_port) || bail "no free port"
add_route t4 "tcp://127.0.0.1:$port" "unix://$T/echo.sock"
if "$XFER" send "tcp:127.0.0.1:$port" 64M --expect echo >"$T/s1.out" 2>&1; then
	pass "tcp(127.0.0.1) -> unix: 64 MiB each way, checksums match"
else
	fail "tcp(127.0.0.1) -> unix: $(cat "$T/s1.out")"
fi

add_route u2t "unix://$T/in.sock" "$(xfer_url "$TECHO")"
if "$XFER" send "unix:$T/in.sock" 64M --seed 3 --expect echo >"$T/s2.out" 2>&1; then
	pass "unix -> tcp(127.0.0.1): 64 MiB each way, checksums match"
else
	fail "unix -> tcp: $(cat "$T/s2.out")"
fi

if port6=$(free_port --ipv6 2>/dev/null); then
	add_route t6 "tcp://[::1]:$port6" "unix://$T/echo.sock"
	if "$XFER" send "tcp:[::1]:$port6" 64M --seed 5 --expect echo >"$T/s3.out" 2>&1; then
		pass "tcp([::1]) -> unix: 64 MiB each way, checksums match"
	else
		fail "tcp([::1]) -> unix: $(cat "$T/s3.out")"
	fi
else
	# A skip fails the run (not in tests/expected-skips).
	skip_one "no IPv6 loopback here (cannot bind [::1])"
fi

check "broker still running" broker_alive
stopped_ok
check "no sanitizer report in the broker log" sanitizer_clean "$BROKER_LOG"
finish
