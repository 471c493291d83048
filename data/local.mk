# Files installed for running brokerd as a service: the example
# configuration and the systemd units (more to come: shell completions).

# The example config, $(sysconfdir)/broker/brokerd.json: brokerd reads it by
# default.  A file already there is the user's and is never overwritten;
# uninstall removes it only while it is still the unchanged example.
brokerconfdir = $(sysconfdir)/broker
EXTRA_DIST += %reldir%/brokerd.json

install-data-local: install-brokerd-json install-user-unit
uninstall-local: uninstall-brokerd-json uninstall-user-unit
install-brokerd-json:
	$(MKDIR_P) '$(DESTDIR)$(brokerconfdir)'
	@if test -f '$(DESTDIR)$(brokerconfdir)/brokerd.json'; then \
		echo "keeping $(DESTDIR)$(brokerconfdir)/brokerd.json (already there; the example is $(srcdir)/%reldir%/brokerd.json)"; \
	else \
		echo " $(INSTALL_DATA) $(srcdir)/%reldir%/brokerd.json '$(DESTDIR)$(brokerconfdir)/brokerd.json'"; \
		$(INSTALL_DATA) $(srcdir)/%reldir%/brokerd.json '$(DESTDIR)$(brokerconfdir)/brokerd.json'; \
	fi
uninstall-brokerd-json:
	@if cmp -s $(srcdir)/%reldir%/brokerd.json '$(DESTDIR)$(brokerconfdir)/brokerd.json'; then \
		echo " rm -f '$(DESTDIR)$(brokerconfdir)/brokerd.json'"; \
		rm -f '$(DESTDIR)$(brokerconfdir)/brokerd.json'; \
	elif test -f '$(DESTDIR)$(brokerconfdir)/brokerd.json'; then \
		echo "keeping $(DESTDIR)$(brokerconfdir)/brokerd.json (changed since it was installed)"; \
	fi
	-rmdir '$(DESTDIR)$(brokerconfdir)' 2>/dev/null

# systemd units, with the install paths filled in at build time (make
# expands ${prefix} and friends; configure cannot).  The user unit is
# installed as brokerd.service too, in the user unit dir.
EXTRA_DIST += %reldir%/brokerd.service.in %reldir%/brokerd.user.service.in
CLEANFILES += %reldir%/brokerd.service %reldir%/brokerd.user.service
DATA_EDIT = sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@bindir[@]|$(bindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g'
%reldir%/brokerd.service: $(srcdir)/%reldir%/brokerd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) %reldir% && $(DATA_EDIT) $(srcdir)/%reldir%/brokerd.service.in >$@.tmp && mv $@.tmp $@
%reldir%/brokerd.user.service: $(srcdir)/%reldir%/brokerd.user.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) %reldir% && $(DATA_EDIT) $(srcdir)/%reldir%/brokerd.user.service.in >$@.tmp && mv $@.tmp $@
if INSTALL_SYSTEM_UNIT
systemdsystemunit_DATA = %reldir%/brokerd.service
endif
if INSTALL_USER_UNIT
nodist_noinst_DATA = %reldir%/brokerd.user.service
install-user-unit: %reldir%/brokerd.user.service
	$(MKDIR_P) '$(DESTDIR)$(systemduserunitdir)'
	$(INSTALL_DATA) %reldir%/brokerd.user.service '$(DESTDIR)$(systemduserunitdir)/brokerd.service'
uninstall-user-unit:
	rm -f '$(DESTDIR)$(systemduserunitdir)/brokerd.service'
else
install-user-unit:
uninstall-user-unit:
endif
