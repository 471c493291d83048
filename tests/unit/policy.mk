# test_peer_policy: what a peer may reach and open here (broker/peer_policy.c).
# POSIX only: it resolves real symlinks and ".." in a temp dir.  Included
# from tests/local.mk:  include %reldir%/unit/policy.mk
check_PROGRAMS += %reldir%/test_peer_policy
TESTS += %reldir%/test_peer_policy
%canon_reldir%_test_peer_policy_SOURCES = %reldir%/test_peer_policy.c broker/peer_policy.c broker/url.c broker/display.c \
	broker/errfmt.c broker/log.c broker/text_escape.c $(BROKER_PLATFORM_SOURCES) $(TEST_PLATFORM_SOURCES)
%canon_reldir%_test_peer_policy_CFLAGS = $(UNIT_CFLAGS)
%canon_reldir%_test_peer_policy_LDADD = $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS)

# test_peer_auth: which links must prove the shared secret (broker/peer_auth.c).
check_PROGRAMS += %reldir%/test_peer_auth
TESTS += %reldir%/test_peer_auth
%canon_reldir%_test_peer_auth_SOURCES = %reldir%/test_peer_auth.c broker/peer_auth.c broker/url.c broker/display.c \
	broker/errfmt.c broker/log.c broker/text_escape.c $(BROKER_PLATFORM_SOURCES)
%canon_reldir%_test_peer_auth_CFLAGS = $(UNIT_CFLAGS)
%canon_reldir%_test_peer_auth_LDADD = $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS)

# test_link_crypto: the link's sealed records and handshake proofs (broker/link_crypto.c, link_auth.c).
check_PROGRAMS += %reldir%/test_link_crypto
TESTS += %reldir%/test_link_crypto
%canon_reldir%_test_link_crypto_SOURCES = %reldir%/test_link_crypto.c broker/link_crypto.c broker/link_auth.c \
	broker/errfmt.c $(BROKER_PLATFORM_SOURCES) broker/log.c broker/text_escape.c broker/display.c
%canon_reldir%_test_link_crypto_CFLAGS = $(UNIT_CFLAGS) $(SODIUM_CFLAGS)
%canon_reldir%_test_link_crypto_LDADD = $(SODIUM_LIBS) $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS)

# test_forwarder_api: gvproxy expose requests as routes (broker/forwarder_api_map.c).
check_PROGRAMS += %reldir%/test_forwarder_api
TESTS += %reldir%/test_forwarder_api
%canon_reldir%_test_forwarder_api_SOURCES = %reldir%/test_forwarder_api.c broker/forwarder_api_map.c \
	broker/peer_policy.c broker/url.c broker/display.c broker/errfmt.c broker/log.c broker/text_escape.c \
	$(BROKER_PLATFORM_SOURCES)
%canon_reldir%_test_forwarder_api_CFLAGS = $(UNIT_CFLAGS)
%canon_reldir%_test_forwarder_api_LDADD = $(LIBEVENT_LIBS) $(LIBEVENT_THREADS_LIBS)
