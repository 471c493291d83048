#!/bin/sh
# Random bytes, bad NNG frames and oversized frames on ctl.sock leave the
# daemon up, answering and relaying.
. "$(dirname "$0")/lib.sh"
plan 9

start_broker
serve echo echo "unix:$T/echo.sock"
CTL_SOCK="$T/run/ctl.sock"
[ -S "$CTL_SOCK" ] || bail "no control socket at $CTL_SOCK"

# try DESCRIPTION ARGS...: send the garbage (every connection must be
# accepted, and with --nng answered with the NNG handshake), then the
# daemon must still answer.  One result.
try() {
	_d=$1; shift
	if ! "$XFER" garbage "$CTL_SOCK" "$@" --timeout 60 >"$T/g.out" 2>&1; then
		fail "$_d: the garbage did not get through to the daemon: $(cat "$T/g.out")"
		broker_alive && ctl_ok || bail "$_d: daemon stopped answering"
	elif broker_alive && ctl_ok; then
		pass "$_d: $(cat "$T/g.out"); daemon still answers"
	else bail "$_d: daemon stopped answering"; fi
}

try "empty connections" 0 --count 20
try "1 KiB random bytes x20" 1024 --count 20 --seed 11
try "1 MiB random bytes x3" 1M --count 3 --seed 12
try "NNG handshake then a garbage request x10" 200 --nng --count 10 --seed 13
try "NNG handshake then a 1 MiB garbage request" 1M --nng --seed 14
try "NNG frame announcing 1 TiB" 16 --nng --oversize --count 3 --seed 15

add_route g1 "unix://$T/in.sock" "unix://$T/echo.sock"
check "a route added after the garbage relays" "$XFER" send "unix:$T/in.sock" 1M --expect echo
stopped_ok
check "no sanitizer report in the broker log" sanitizer_clean "$BROKER_LOG"
finish
