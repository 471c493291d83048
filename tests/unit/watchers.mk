# Unit tests for the procnet and iptables watcher plugins: each loads its
# built plugin with dlopen (from $top_builddir/plugins/NAME/.libs) and drives
# it through the fake host of fake_host.c, which records mapping calls.
check_PROGRAMS += %reldir%/test_procnet %reldir%/test_iptables
TESTS += %reldir%/test_procnet %reldir%/test_iptables
%canon_reldir%_test_procnet_SOURCES = %reldir%/test_procnet.c %reldir%/fake_host.c
%canon_reldir%_test_procnet_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_procnet_LDADD = $(LIBEVENT_LIBS)
%canon_reldir%_test_iptables_SOURCES = %reldir%/test_iptables.c %reldir%/fake_host.c
%canon_reldir%_test_iptables_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_iptables_LDADD = $(LIBEVENT_LIBS)
# Sourced by tests/integration/watch_{procnet,iptables,kubernetes,docker}.sh:
# the guest namespace with a linked brokerd.
EXTRA_DIST += tests/integration/guest_lib.sh
# The iptables watcher's parsing of iptables-save output (compiled in).
check_PROGRAMS += %reldir%/test_ipt_parse
TESTS += %reldir%/test_ipt_parse
%canon_reldir%_test_ipt_parse_SOURCES = %reldir%/test_ipt_parse.c plugins/iptables/ipt_parse.c
%canon_reldir%_test_ipt_parse_CFLAGS = $(AM_CFLAGS)
# The procnet watcher's decoding of /proc/net tables and sock_diag answers (compiled in).
check_PROGRAMS += %reldir%/test_pn_parse
TESTS += %reldir%/test_pn_parse
%canon_reldir%_test_pn_parse_SOURCES = %reldir%/test_pn_parse.c plugins/procnet/pn_proc.c plugins/procnet/pn_netlink.c
%canon_reldir%_test_pn_parse_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_pn_parse_LDADD = $(LIBEVENT_LIBS)
# The wslproxy watcher's parsing of Rancher Desktop PortMapping objects (compiled in).
check_PROGRAMS += %reldir%/test_wp_parse
TESTS += %reldir%/test_wp_parse
%canon_reldir%_test_wp_parse_SOURCES = %reldir%/test_wp_parse.c plugins/wslproxy/wp_parse.c
%canon_reldir%_test_wp_parse_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
%canon_reldir%_test_wp_parse_LDADD = $(JANSSON_LIBS)
EXTRA_DIST += %reldir%/wslproxy/add_tcp.json %reldir%/wslproxy/agent_add.json %reldir%/wslproxy/add_udp.json \
	%reldir%/wslproxy/multi.json %reldir%/wslproxy/remove.json %reldir%/wslproxy/empty_hostip.json \
	%reldir%/wslproxy/truncated.json %reldir%/wslproxy/bad_json.json %reldir%/wslproxy/wrong_types.json \
	%reldir%/wslproxy/skipped.json
