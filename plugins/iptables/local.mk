# Watcher plugin: DNAT rules in the nat table (iptables-save, polled without blocking). Linux only.
plugin_LTLIBRARIES += %reldir%/iptables.la
%canon_reldir%_iptables_la_SOURCES = %reldir%/iptables.c %reldir%/ipt_parse.c %reldir%/ipt.h \
	plugins/common/spawn_capture.c plugins/common/spawn_capture.h plugins/common/seen_twice.c plugins/common/seen_twice.h
%canon_reldir%_iptables_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_iptables_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_iptables_la_LIBADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/README.md
