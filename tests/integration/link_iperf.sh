#!/bin/sh
# iperf3 (a real client nobody here wrote) through two brokers linked over a
# unix socket: a route on B, tcp://127.0.0.1:R -> peer:tcp://127.0.0.1:P,
# to `iperf3 -s` on A's side.  -P 8 (8 parallel streams B to A) and
# -P 8 -R (A to B), 4 s each with 1 s intervals: the test must complete
# (iperf3 exits 0 with its end summary) and no stream may have an interval
# in which it moved 0 bytes; issue 8 found every interval after the first at
# 0 bytes with -P 4 and up.  An interval iperf3 itself reported late (over
# 1.5 s long: the machine did not run it) is judged only by its total.  No
# speed is asserted; the rates are reported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 6
command -v iperf3 >/dev/null 2>&1 || bail "iperf3 not installed (scripts/bootstrap installs it)"
command -v python3 >/dev/null 2>&1 || bail "python3 not installed (scripts/bootstrap installs it)"

bstart A --link-listen "unix://$T/link.sock" --peer-allow-connect "tcp://127.0.0.1:*"
bstart B --link-connect "unix://$T/link.sock"
wait_link_up B 15 || bail "link not up within 15 s: $(tr '\n' ' ' <"$T/B.link.json")"

P=$(free_port) || bail "no free port"
R=$(free_port) || bail "no free port"
iperf3 -s -p "$P" -B 127.0.0.1 >"$T/iperf-s.log" 2>&1 &
record $!
iperf_listening() { ss -Htln "sport = :$P" 2>/dev/null | grep -q .; }
wait_until 10 iperf_listening || bail "iperf3 -s did not listen on 127.0.0.1:$P: $(cat "$T/iperf-s.log")"
broute B iperf "tcp://127.0.0.1:$R" "peer:tcp://127.0.0.1:$P"
route_listening() { ss -Htln "sport = :$R" 2>/dev/null | grep -q .; }
wait_until 10 route_listening || bail "route did not listen on 127.0.0.1:$R: $(route_line B iperf)"

# check_json FILE: print one summary line; exit 1 (with the reason) when the
# test did not complete or some stream had an interval with 0 bytes.
check_json() {
	python3 - "$1" <<'EOF'
import json, sys
NOMINAL = 1.0    # the -i interval
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("no JSON result from iperf3: %s" % e); sys.exit(1)
if d.get("error"):
    print("iperf3 failed: %s" % d["error"]); sys.exit(1)
end = d.get("end", {})
if "sum_received" not in end or "sum_sent" not in end:
    print("iperf3 gave no end summary (the test did not complete)"); sys.exit(1)
ivs = d.get("intervals", [])
zero, low, checked, stretched = [], None, 0, 0
for iv in ivs:
    secs = iv["sum"]["seconds"]
    # A short last interval (the test ending) may be empty; one much longer
    # than asked means iperf3 itself did not run on time (a loaded machine):
    # its per-stream counts say nothing about the link.
    if secs < 0.5 * NOMINAL:
        continue
    if secs > 1.5 * NOMINAL:
        stretched += 1
        if iv["sum"]["bytes"] == 0:
            zero.append("all streams in %.1f-%.1f s" % (iv["sum"]["start"], iv["sum"]["end"]))
        continue
    checked += 1
    for s in iv["streams"]:
        b = s["bytes"]
        low = b if low is None or b < low else low
        if b == 0:
            zero.append("stream %d in %.1f-%.1f s" % (s["socket"], s["start"], s["end"]))
rate = end["sum_received"]["bits_per_second"] / 1e9
if zero:
    print("%d stream intervals moved 0 bytes: %s" % (len(zero), ", ".join(zero[:8]))); sys.exit(1)
if checked == 0:
    print("no interval of the asked length (%d stretched): iperf3 itself never ran on time" % stretched); sys.exit(1)
print("%d intervals of 1 s, every stream moved data in each (least %.1f MiB)%s, %.2f Gbit/s received"
      % (checked, low / 1048576.0, ", %d stretched ones not judged" % stretched if stretched else "", rate))
EOF
}

for args in "-P 8" "-P 8 -R"; do
	name=$(echo "$args" | tr -d ' ')
	# shellcheck disable=SC2086 # the iperf3 flags, one word each
	timeout 60 iperf3 -c 127.0.0.1 -p "$R" $args -t 4 -i 1 --json >"$T/$name.json" 2>"$T/$name.err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "iperf3 $args through the link: exit $rc: $(check_json "$T/$name.json") $(head -c 300 "$T/$name.err")"
	elif msg=$(check_json "$T/$name.json"); then
		pass "iperf3 $args through the link: $msg"
	else
		fail "iperf3 $args through the link: $msg"
	fi
done

streams_zero() { [ "$(link_field "$1" any streams_open)" = 0 ]; }
if wait_until 10 streams_zero B; then pass "every stream closed afterwards"
else fail "streams still open after iperf3: $(link_field B any streams_open)"; fi
bstop B && [ "$STOP_RC" = 0 ] && pass "dialer exits 0 on SIGTERM" || fail "dialer stop: $STOP_RC"
bstop A && [ "$STOP_RC" = 0 ] && pass "acceptor exits 0 on SIGTERM" || fail "acceptor stop: $STOP_RC"
dirty=
for l in "$T"/A*.log "$T"/B*.log; do
	sanitizer_clean "$l" || dirty="$dirty $(basename "$l")"
done
[ -z "$dirty" ] && pass "no sanitizer report in the brokers' logs" || fail "sanitizer report in:$dirty"
finish
