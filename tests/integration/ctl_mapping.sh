#!/bin/sh
# brokerctl mapping list|add|rm on one broker: manual mappings are exported,
# a second owner of the same port is in conflict until the first goes, bad
# input is refused with a reason, and manual mappings survive a restart.
. "$(dirname "$0")/lib.sh"
plan 32

command -v python3 >/dev/null 2>&1 || bail "python3 needed to read --json output"

# field OWNER KEY: print KEY of the mapping OWNER from `mapping list --json` (empty if absent).
field() {
	ctl --json mapping list >"$T/list.json" 2>"$T/list.err" || return 1
	python3 - "$T/list.json" "$1" "$2" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1])):
    if m["source"] == "manual" and m["owner"] == sys.argv[2]:
        v = m[sys.argv[3]]
        print(",".join(v) if isinstance(v, list) else v)
PY
}
# expect_field DESC OWNER KEY REGEX
expect_field() {
	if ! _v=$(field "$2" "$3"); then
		fail "$1: mapping list --json failed: $(head -c 200 "$T/list.err")"
		return
	fi
	if printf '%s\n' "$_v" | grep -Eq -- "$4"; then pass "$1 ($3: $_v)"
	else fail "$1: $3 of $2 is '$_v', want /$4/ ($(head -c 200 "$T/list.err"))"; fi
}
# expect_refused DESC REGEX CMD...: non-zero exit, one "brokerctl: " line matching REGEX.
expect_refused() {
	_d=$1; _re=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	_rc=$?
	if [ "$_rc" -ne 0 ] && [ "$(grep -c . "$T/err")" -eq 1 ] && grep -Eqi -- "^brokerctl: .*($_re)" "$T/err"; then
		pass "$_d (exit $_rc: $(cat "$T/err"))"
	else
		fail "$_d: exit $_rc, stderr: $(head -c 300 "$T/err")"
	fi
}

port=$(free_port) || bail "no free port"
# Manual mappings are exported to a peer: a link must be configured (no peer needs to come).
LINKARG="--link-listen unix://$T/link.sock"
start_broker $LINKARG

if ctl mapping list >"$T/out" 2>&1 && grep -q "no mappings" "$T/out"; then pass "empty mapping list says so"
else fail "empty mapping list: $(head -c 200 "$T/out")"; fi

check "mapping add $port --connect 127.0.0.1:80" ctl mapping add "$port" --connect 127.0.0.1:80
expect_field "first mapping is local" "tcp-$port" origin '^local$'
expect_field "first mapping is exported" "tcp-$port" state '^exported$'
expect_field "connect addresses listed" "tcp-$port" connect '^127\.0\.0\.1:80$'
expect_field "host port listed" "tcp-$port" host_port "^$port\$"

check "second owner of the same port" ctl mapping add "$port" --connect 127.0.0.1:81 --connect 127.0.0.1:82 \
	--owner second --description "the second one"
expect_field "second owner is in conflict" second state '^conflict'
expect_field "second owner keeps both connect addresses" second connect '^127\.0\.0\.1:81,127\.0\.0\.1:82$'
expect_field "description kept" second description '^the second one$'
if ctl mapping list >"$T/out" 2>&1 && head -n 1 "$T/out" | grep -q "SOURCE.*OWNER/DESCRIPTION.*PROTO.*HOST-PORT.*CONNECT.*STATE.*ORIGIN.*CONNS.*BYTES" &&
	grep -q "second (the second one)" "$T/out"; then
	pass "mapping list prints a table"
else fail "mapping list table: $(head -c 400 "$T/out")"; fi
if ctl mapping add "$((port + 1))" --connect 127.0.0.1:83 --proto udp --host-ip 127.0.0.1 >"$T/out" 2>&1 &&
	grep -q "udp-$((port + 1))" "$T/out"; then
	pass "udp mapping on 127.0.0.1 (default owner udp-PORT): $(cat "$T/out")"
else fail "udp mapping: $(head -c 300 "$T/out")"; fi
expect_field "udp mapping's protocol" "udp-$((port + 1))" proto '^udp$'
expect_field "udp mapping's host ip" "udp-$((port + 1))" host_ip '^127\.0\.0\.1$'

check "mapping rm tcp-$port" ctl mapping rm "tcp-$port"
expect_field "removed mapping is gone" "tcp-$port" owner '^$'
expect_field "removal promotes the second owner" second state '^exported$'

expect_refused "port 0" 'port 0|1\.\.65535' ctl mapping add 0 --connect 127.0.0.1:80
expect_refused "port 70000" '70000' ctl mapping add 70000 --connect 127.0.0.1:80
expect_refused "port not a number" 'PORT|port' ctl mapping add http --connect 127.0.0.1:80
expect_refused "bad connect address" 'not-an-address' ctl mapping add 18090 --connect not-an-address
expect_refused "unknown protocol" 'sctp' ctl mapping add 18090 --connect 127.0.0.1:80 --proto sctp
expect_refused "no --connect" 'connect' ctl mapping add 18090
expect_refused "rm of an unknown owner" 'nosuch' ctl mapping rm nosuch
expect_refused "mapping options on another command" 'only go with mapping add' ctl route list --owner x
ctl mapping add 18090 >/dev/null 2>&1
[ $? -eq 2 ] && pass "usage errors exit 2" || fail "mapping add without --connect: exit status not 2"
expect_field "refused adds left nothing behind" tcp-18090 owner '^$'

stopped_ok
start_broker $LINKARG
expect_field "after restart: second mapping is back" second state '^exported$'
expect_field "after restart: udp mapping is back" "udp-$((port + 1))" proto '^udp$'
expect_field "after restart: removed mapping stays gone" "tcp-$port" owner '^$'
stopped_ok
for l in "$T"/brokerd.*.log; do sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"; done
finish
