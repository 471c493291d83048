# Test plugins: the example from broker-plugin(7) and deliberately broken
# plugins for the loader tests.  Built by `make check` only; -rpath makes
# libtool produce a real .so for a check library (found in %reldir%/.libs).
TEST_PLUGIN_LDFLAGS = -module -avoid-version -shared -no-undefined -rpath /nowhere

check_LTLIBRARIES += %reldir%/example.la %reldir%/bad_abi.la %reldir%/no_symbol.la \
	%reldir%/init_fails.la %reldir%/small_struct.la

%canon_reldir%_example_la_SOURCES = %reldir%/example.c
%canon_reldir%_example_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_example_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS) -export-symbols-regex '^broker_plugin_entry$$'
%canon_reldir%_example_la_LIBADD = $(LIBEVENT_LIBS)

%canon_reldir%_bad_abi_la_SOURCES = %reldir%/bad_abi.c
%canon_reldir%_bad_abi_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS) -export-symbols-regex '^broker_plugin_entry$$'

# No export filter: it would hide the misspelled entry, and this plugin must
# export a symbol, just not the right one.
%canon_reldir%_no_symbol_la_SOURCES = %reldir%/no_symbol.c
%canon_reldir%_no_symbol_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)

%canon_reldir%_init_fails_la_SOURCES = %reldir%/init_fails.c
%canon_reldir%_init_fails_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS) -export-symbols-regex '^broker_plugin_entry$$'

%canon_reldir%_small_struct_la_SOURCES = %reldir%/small_struct.c
%canon_reldir%_small_struct_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS) -export-symbols-regex '^broker_plugin_entry$$'

# The manual's example plugin is this example.c, and builds out of tree.
TESTS += %reldir%/example-in-man.sh
EXTRA_DIST += %reldir%/example-in-man.sh

# The test plugins in a real brokerd: refusals, short table, echo relay.
TESTS += %reldir%/plugins.sh
EXTRA_DIST += %reldir%/plugins.sh

# A watcher that reports mappings from a JSON file (mapping tests and benchmark).
check_LTLIBRARIES += %reldir%/static_watch.la
%canon_reldir%_static_watch_la_SOURCES = %reldir%/static_watch.c
%canon_reldir%_static_watch_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
%canon_reldir%_static_watch_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS) -export-symbols-regex '^broker_plugin_entry$$'
%canon_reldir%_static_watch_la_LIBADD = $(JANSSON_LIBS)

# The same watcher yielding ports to other watchers, as procnet does (BROKER_WATCHER_YIELDS).
check_LTLIBRARIES += %reldir%/static_yield.la
%canon_reldir%_static_yield_la_SOURCES = %reldir%/static_watch.c
%canon_reldir%_static_yield_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) -DSTATIC_WATCH_YIELDS
%canon_reldir%_static_yield_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS) -export-symbols-regex '^broker_plugin_entry$$'
%canon_reldir%_static_yield_la_LIBADD = $(JANSSON_LIBS)
