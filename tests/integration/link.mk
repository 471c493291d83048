# Link integration tests: two (or more) real brokers linked over unix, tcp,
# stdio and vsock, plus a hostile peer (tests/tools/linkpeer).  Helpers are
# in link_lib.sh (sourced after lib.sh).  Included from tests/local.mk:
#   include %reldir%/integration/link.mk
%canon_reldir%_link_scripts = \
	%reldir%/link_transfer.sh \
	%reldir%/link_fairness.sh \
	%reldir%/link_concurrency.sh \
	%reldir%/link_iperf.sh \
	%reldir%/link_soak.sh \
	%reldir%/link_latency.sh \
	%reldir%/link_kill.sh \
	%reldir%/link_hostile.sh \
	%reldir%/link_bounds.sh \
	%reldir%/peer_text.sh \
	%reldir%/link_policy.sh \
	%reldir%/link_auth.sh \
	%reldir%/link_crypto.sh \
	%reldir%/link_auth_backoff.sh \
	%reldir%/link_vsock.sh \
	%reldir%/link_peer_counters.sh \
	%reldir%/route_peer.sh \
	%reldir%/forwarder_api.sh
TESTS += $(%canon_reldir%_link_scripts)
EXTRA_DIST += %reldir%/link_lib.sh $(%canon_reldir%_link_scripts)
