# Man pages.  brokerd(8) and broker.conf(5) name paths chosen at build time
# (the default config file under $(sysconfdir), the plugin dir), so they are
# made from their .in files with the values the binary is built with.
dist_man_MANS += %reldir%/brokerctl.1 %reldir%/broker-plugin.7 %reldir%/broker-link.7
nodist_man_MANS += %reldir%/brokerd.8 %reldir%/broker.conf.5
EXTRA_DIST += %reldir%/brokerd.8.in %reldir%/broker.conf.5.in
CLEANFILES += %reldir%/brokerd.8 %reldir%/broker.conf.5
# make expands ${prefix} and friends inside these; configure cannot.
MAN_EDIT = sed -e 's|@sysconfdir[@]|$(sysconfdir)|g' -e 's|@plugindir[@]|$(plugindir)|g'
%reldir%/brokerd.8: $(srcdir)/%reldir%/brokerd.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) %reldir% && $(MAN_EDIT) $(srcdir)/%reldir%/brokerd.8.in >$@.tmp && mv $@.tmp $@
%reldir%/broker.conf.5: $(srcdir)/%reldir%/broker.conf.5.in Makefile
	$(AM_V_GEN)$(MKDIR_P) %reldir% && $(MAN_EDIT) $(srcdir)/%reldir%/broker.conf.5.in >$@.tmp && mv $@.tmp $@
