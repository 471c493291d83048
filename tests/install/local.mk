# Tests of the installed tree (not part of `make check`: they need `make
# install` first).  `make installcheck` runs each through tests/tap-run,
# like any test, with the install dirs in INST_* variables;
# scripts/run-tests counts their results (tests/expected-tests lists them
# as install:NAME).
INSTALLCHECK_TESTS = %reldir%/installed.sh %reldir%/units.sh %reldir%/deb.sh
EXTRA_DIST += $(INSTALLCHECK_TESTS)
CLEANFILES += $(INSTALLCHECK_TESTS:.sh=.log) $(INSTALLCHECK_TESTS:.sh=.trs)

if !PLATFORM_WINDOWS
installcheck-local: tests/tools/xfer$(EXEEXT)
	@$(MKDIR_P) %reldir%
	@failed=; for t in $(INSTALLCHECK_TESTS); do \
		rm -f $${t%.sh}.log $${t%.sh}.trs; \
		$(AM_TESTS_ENVIRONMENT) \
		INST_SBINDIR='$(sbindir)' INST_BINDIR='$(bindir)' INST_PLUGINDIR='$(plugindir)' \
		INST_SYSCONFDIR='$(sysconfdir)' INST_PKGCONFIGDIR='$(pkgconfigdir)' \
		INST_MANDIR='$(mandir)' INST_SYSTEMDSYSTEMUNITDIR='$(systemdsystemunitdir)' \
		INST_SYSTEMDUSERUNITDIR='$(systemduserunitdir)' MAKE='$(MAKE)' \
		$(SHELL) $(srcdir)/tests/tap-run --test-name $$t \
			--log-file $${t%.sh}.log --trs-file $${t%.sh}.trs \
			--color-tests no --enable-hard-errors yes --expect-failure no \
			-- $(SHELL) $(srcdir)/$$t; \
		grep -q '^:global-test-result: PASS' $${t%.sh}.trs || failed="$$failed $$t"; \
	done; \
	test -z "$$failed" || { echo "installcheck: failed:$$failed (see their .log files)"; exit 1; }
endif
