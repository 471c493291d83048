#!/bin/sh
# A dialer with the wrong secret, over a carrier where the dialer itself does
# not require authentication (it dials unix://...?auth=required on A; only A
# asks for a proof).  A rejects every attempt; the dialer must
#  - show the reason in its link status (last_error names authentication),
#    on every look, not a secondary "carrier write failed: Broken pipe";
#  - back off exponentially between rejected attempts (--link-backoff-max 2:
#    the attempts thin out, see backoff_thins in link_lib.sh; a fixed fast
#    retry fails), instead of retrying at full speed.
# (This once failed: the dialer declared the link up before A had judged its
# proof, which reset its backoff; broker/peer.c no longer does.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 5

SECRET="$T/good.secret"
WRONG="$T/wrong.secret"
make_secret "$SECRET"
make_secret "$WRONG"
bstart A --link-listen "unix://$T/alink.sock?auth=required" --link-secret "$SECRET"
bstart C --link-connect "unix://$T/alink.sock" --link-secret "$WRONG" --link-backoff-max 2

auth_logged() { grep -q "authentication failed" "$(blog A)"; }
wait_until 10 auth_logged || bail "A never logged 'authentication failed'"
pass "A rejects the wrong secret: $(grep 'authentication failed' "$(blog A)" | tail -n 1 | cut -d' ' -f2- | cut -c1-160)"

bad=""
for _k in 1 2 3 4 5 6 7 8 9 10; do
	le=$(link_field C connect last_error)
	case $le in *uthentica*) ;; *) bad="$bad '$le' (state $(link_field C connect state));" ;; esac
	sleep 0.2
done
[ -z "$bad" ] && pass "the dialer's last_error names authentication on every look" ||
	fail "the dialer's last_error does not say authentication failed:$bad"

if backoff_thins A "authentication failed"; then pass "the rejected dialer backs off: $BACKOFF_MSG"
else fail "the rejected dialer does not back off exponentially with a wrong secret: $BACKOFF_MSG; it logged 'up: peer' $(grep -c "up: peer" "$(blog C)") times"; fi

bstop C && [ "$STOP_RC" = 0 ] && pass "C exits 0 on SIGTERM" || fail "C stop: $STOP_RC"
bstop A && [ "$STOP_RC" = 0 ] && pass "A exits 0 on SIGTERM" || fail "A stop: $STOP_RC"
for l in "$T"/A*.log "$T"/C*.log; do
	sanitizer_clean "$l" || fail "sanitizer report in $(basename "$l")"
done
finish
