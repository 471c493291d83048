#!/bin/sh
# Text a peer sends never reaches a log or a terminal raw (issue 9, case 8:
# broker id, hostname, route and mapping names, GOAWAY text and OPEN_ERR
# reasons went into logs and brokerctl output as sent, so terminal escapes
# and forged log lines got through).  tests/tools/linkpeer links to broker A
# as a peer whose every string carries ESC sequences and newlines:
#  (a) a hostname with ESC and a newline: A's "link up" log line shows \x1b
#      and \n, brokerctl watch shows the link.up event escaped;
#  (b) an OPEN_ERR reason with an OSC title sequence, for a route of A
#      through the link: logged escaped;
#  (c) a mapping description with escapes: `brokerctl mapping list` and the
#      watch output show it escaped;
#  (d) a GOAWAY text with a clear-screen and a newline: logged escaped, and
#      `brokerctl link status` shows it escaped as the listener's last error;
#  (e) a broker id with control characters: refused at HELLO (it becomes a
#      store key and a table cell), with a GOAWAY saying why.
# In the end A's log, brokerctl's output and the watch output hold no ESC,
# BEL or raw CR byte, and no line starts with FORGED.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 18
[ -x "$LINKPEER" ] || bail "test helper not built ($LINKPEER; run make check)"

ESC=$(printf '\033')
BEL=$(printf '\007')
CR=$(printf '\r')
NL=$(printf '\nx')
NL=${NL%x}

bstart A --link-listen "unix://$T/A/link.sock"
broute A esc "unix://$T/in.sock" "peer:tcp://127.0.0.1:9"
"$BROKERCTL" --runtime-dir "$T/A" watch link. mapping. >"$T/watch.out" 2>&1 &
wp=$!
record $wp
sleep 0.5

host="evil${ESC}[31mred${NL}FORGED host line"
openerr="nope${ESC}]0;pwned${BEL}${NL}FORGED open_err line"
goaway="bye${ESC}[2J${CR}${NL}FORGED goaway line"
desc="web${ESC}[5mblink${NL}FORGED desc line"

"$LINKPEER" peer "unix:$T/A/link.sock" --hostname "$host" --open-err "$openerr" --goaway "$goaway" \
	--hold 8 >"$T/peer.out" 2>&1 &
pp=$!
record $pp
wait_log A "up: peer linkpeer-bounds" 10 || bail "linkpeer did not link to A: $(tr '\n' ' ' <"$T/peer.out")"

# ---- (a) hostname ----
log_has A 'up: peer linkpeer-bounds \(evil\\x1b\[31mred\\nFORGED host line,' &&
	pass "(a) A logs the hostname escaped: '$(grep "up: peer linkpeer-bounds" "$(blog A)" | tail -n 1 | cut -d' ' -f5- | cut -c1-120)'" ||
	fail "(a) the hostname is not escaped in A's log: $(grep "up: peer" "$(blog A)" | tail -n 1 | od -c | head -n 3 | tr '\n' ' ')"

# ---- (b) OPEN_ERR reason ----
"$XFER" send "unix:$T/in.sock" 10 --io-timeout 5 >/dev/null 2>&1
wait_log A "the peer could not connect: nope\\\\x1b\]0;pwned\\\\x07\\\\nFORGED open_err line" 5 &&
	pass "(b) A logs the OPEN_ERR reason escaped: '$(grep "could not connect" "$(blog A)" | tail -n 1 | cut -d' ' -f4- | cut -c1-120)'" ||
	fail "(b) no escaped OPEN_ERR reason in A's log: $(grep "could not connect" "$(blog A)" | tail -n 1 | od -c | head -n 3 | tr '\n' ' ')"

# ---- (c) mapping description ----
mp=$(free_port) || bail "no free port"
"$LINKPEER" sync "unix:$T/A/link.sock" 1 --port "$mp" --desc "$desc" --id linkpeer-desc >"$T/sync.out" 2>&1
grep -q "status 0" "$T/sync.out" && pass "(c) the peer's mapping sync was answered" ||
	fail "(c) the sync was not answered: $(tr '\n' ' ' <"$T/sync.out")"
bctl A mapping list >"$T/maps.out" 2>&1
grep -qF 'web\x1b[5mblink\nFORGED desc line' "$T/maps.out" &&
	pass "(c) mapping list shows the description escaped" ||
	fail "(c) mapping list: $(od -c "$T/maps.out" | head -n 4 | tr '\n' ' ')"

# ---- (d) GOAWAY ----
wait $pp
wait_log A 'peer closed the link: bye\\x1b\[2J\\r\\nFORGED goaway line' 15 &&
	pass "(d) A logs the GOAWAY text escaped" ||
	fail "(d) no escaped GOAWAY in A's log: $(grep "peer closed the link" "$(blog A)" | tail -n 1 | od -c | head -n 3 | tr '\n' ' ')"
bctl A link status >"$T/links.out" 2>&1
grep -qF 'bye\x1b[2J\r\nFORGED goaway line' "$T/links.out" &&
	pass "(d) link status shows the GOAWAY as the listener's last error, escaped" ||
	fail "(d) link status: $(od -c "$T/links.out" | head -n 6 | tr '\n' ' ')"

# ---- (e) a broker id with control characters ----
"$LINKPEER" peer "unix:$T/A/link.sock" --id "id${ESC}[7m" --hold 2 >"$T/badid.out" 2>&1
grep -q "recv GOAWAY stream 0: HELLO with control characters in the broker id" "$T/badid.out" &&
	pass "(e) a broker id with ESC is refused: $(grep GOAWAY "$T/badid.out" | head -n 1)" ||
	fail "(e) a broker id with ESC: $(tr '\n' ' ' <"$T/badid.out" | cut -c1-200)"

# ---- nothing raw anywhere ----
kill $wp 2>/dev/null
wait $wp 2>/dev/null
raw() { LC_ALL=C grep -c "[$ESC$BEL$CR]" "$1"; }
for f in "$(blog A)" "$T/watch.out" "$T/maps.out" "$T/links.out"; do
	n=$(raw "$f")
	[ "$n" = 0 ] && pass "no ESC, BEL or CR byte in $(basename "$f")" || fail "$n lines with raw control bytes in $(basename "$f")"
	if grep -q "^FORGED" "$f"; then fail "a forged line in $(basename "$f"): $(grep "^FORGED" "$f" | head -n 1)"
	else pass "no line of $(basename "$f") starts with FORGED"; fi
done
grep -qF 'evil\x1b[31mred\nFORGED host line' "$T/watch.out" && pass "the watch output shows the link.up event escaped" ||
	fail "watch output: $(head -c 300 "$T/watch.out" | od -c | head -n 4 | tr '\n' ' ')"

bstop A && [ "$STOP_RC" = 0 ] && pass "A exits 0 on SIGTERM" || fail "A stop: $STOP_RC"
sanitizer_clean "$(blog A)" && pass "no sanitizer report from A" || fail "sanitizer report in A's log"
finish
