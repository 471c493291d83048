#!/bin/sh
# tests/install/installed.sh - `make installcheck`: the installed tree works
# on its own, the way a packager or `make install` user gets it.  The
# Makefile (tests/install/local.mk) passes where everything went (INST_*).
#   - brokerd in sbindir and brokerctl in bindir run;
#   - every plugin the build made is in the plugin dir, and an installed
#     brokerd given no --plugin-dir loads them from there;
#   - broker.pc names that dir, and <broker/plugin.h> builds a plugin out of
#     tree with nothing but `pkg-config --cflags broker` (the example of
#     broker-plugin(7)), which the installed brokerd loads and serves a
#     route with;
#   - the man pages are installed and render;
#   - $(sysconfdir)/broker/brokerd.json is installed, valid, and read by
#     default; `make install` keeps a changed one and uninstall leaves it.
# TAP through tests/tap-run; one result per check on every path.
. "$top_srcdir/tests/integration/lib.sh"

plan 14

for v in INST_SBINDIR INST_BINDIR INST_PLUGINDIR INST_SYSCONFDIR INST_PKGCONFIGDIR INST_MANDIR; do
	eval "[ -n \"\${$v:-}\" ]" || bail "$v is not set (run this through make installcheck)"
done
VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")

# 1-2: the programs where packagers expect them.
out=$("$INST_SBINDIR/brokerd" --version 2>&1)
case $out in
"brokerd $VERSION "*) pass "installed brokerd --version: $out" ;;
*) fail "installed $INST_SBINDIR/brokerd --version: '$out' (expected brokerd $VERSION)" ;;
esac
out=$("$INST_BINDIR/brokerctl" --version 2>&1)
if [ "$out" = "brokerctl $VERSION" ]; then pass "installed brokerctl --version: $out"
else fail "installed $INST_BINDIR/brokerctl --version: '$out' (expected brokerctl $VERSION)"; fi

# 3: every plugin the build made is installed in the plugin dir.
missing=""
built=""
for so in "$top_builddir"/plugins/*/.libs/*.so; do
	[ -e "$so" ] || continue
	n=$(basename "$so")
	built="$built ${n%.so}"
	[ -f "$INST_PLUGINDIR/$n" ] || missing="$missing $n"
done
if [ -n "$built" ] && [ -z "$missing" ]; then pass "plugins installed in $INST_PLUGINDIR:$built"
else fail "plugins missing from $INST_PLUGINDIR:${missing:- (the build made none)}"; fi

# 4: broker.pc says where plugins go.
PKG_CONFIG_PATH=$INST_PKGCONFIGDIR
export PKG_CONFIG_PATH
pcdir=$(pkg-config --variable=plugindir broker 2>&1)
if [ "$pcdir" = "$INST_PLUGINDIR" ]; then pass "pkg-config --variable=plugindir broker: $pcdir"
else fail "pkg-config --variable=plugindir broker: '$pcdir', plugins are in $INST_PLUGINDIR"; fi

# 5: the installed header builds the manual's example plugin out of tree.
CC=${CC:-cc}
sed '/^#include "config.h"$/{N;d;}' "$top_srcdir/tests/plugins/example.c" >"$T/echo.c"
# shellcheck disable=SC2046 # pkg-config's flags are word lists
if $CC -shared -fPIC -Wall -Werror $(pkg-config --cflags broker libevent) -o "$T/echo.so" "$T/echo.c" \
	$(pkg-config --libs libevent) >"$T/cc.out" 2>&1; then
	pass "a plugin builds out of tree with pkg-config --cflags broker ($(pkg-config --cflags broker))"
else
	fail "the example plugin does not build against the installed <broker/plugin.h>: $(head -n 5 "$T/cc.out")"
fi

# 6-9: an installed brokerd with no --plugin-dir loads the installed plugins.
BROKERD=$INST_SBINDIR/brokerd
BROKERCTL=$INST_BINDIR/brokerctl
PLUGIN_ARGS=
start_broker
ctl plugin list >"$T/plugins.out" 2>&1
missing=""
for p in $built; do
	grep -qw -- "$p" "$T/plugins.out" || missing="$missing $p"
done
if [ -z "$missing" ]; then pass "brokerd with no --plugin-dir loaded every installed plugin"
else fail "brokerd with no --plugin-dir did not load:$missing ($(tr '\n' ' ' <"$T/plugins.out"))"; fi
if ctl plugin load "$T/echo.so" >"$T/load.out" 2>&1; then pass "the out-of-tree plugin loads"
else fail "plugin load $T/echo.so: $(cat "$T/load.out")"; fi
port=$(free_port)
add_route hello "tcp://127.0.0.1:$port" "echo:x"
got=$(printf 'installed\n' | socat -T 10 - "TCP:127.0.0.1:$port" 2>&1)
if [ "$got" = "installed" ]; then pass "a route from the default plugin dir's tcp to the out-of-tree echo answers"
else fail "route tcp://127.0.0.1:$port -> echo:x answered '$got'"; fi
stopped_ok

# 10: the man pages are installed and render.
bad=""
for m in man8/brokerd.8 man1/brokerctl.1 man5/broker.conf.5 man7/broker-plugin.7 man7/broker-link.7; do
	[ -f "$INST_MANDIR/$m" ] && mandoc -T utf8 "$INST_MANDIR/$m" 2>/dev/null | grep -q . || bad="$bad $m"
done
if [ -z "$bad" ]; then pass "man pages installed under $INST_MANDIR and render"
else fail "man pages missing or empty under $INST_MANDIR:$bad"; fi

# 11-12: the example config is installed, valid, and the default.
conf=$INST_SYSCONFDIR/broker/brokerd.json
if cmp -s "$top_srcdir/data/brokerd.json" "$conf"; then pass "example config installed as $conf"
else fail "$conf is not the example data/brokerd.json"; fi
out=$("$BROKERD" --check-config 2>&1)
if [ "$out" = "brokerd: configuration OK ($conf)" ]; then pass "brokerd reads $conf by default: $out"
else fail "brokerd --check-config with no --config: '$out' (expected it to read $conf)"; fi

# 13-14: install keeps a config the user changed; uninstall leaves it.
D=$T/dest
dconf=$D$INST_SYSCONFDIR/broker/brokerd.json
"${MAKE:-make}" -s -C "$top_builddir" DESTDIR="$D" install-brokerd-json >"$T/inst1.out" 2>&1
printf '{ "log_level": "debug" }\n' >"$dconf"
"${MAKE:-make}" -s -C "$top_builddir" DESTDIR="$D" install-brokerd-json >"$T/inst2.out" 2>&1
if grep -q debug "$dconf" 2>/dev/null && grep -q "keeping" "$T/inst2.out"; then
	pass "make install keeps a changed brokerd.json: $(cat "$T/inst2.out")"
else
	fail "make install replaced a changed brokerd.json (or said nothing): $(cat "$T/inst2.out")"
fi
"${MAKE:-make}" -s -C "$top_builddir" DESTDIR="$D" uninstall-brokerd-json >"$T/un1.out" 2>&1
kept=no
grep -q debug "$dconf" 2>/dev/null && kept=yes
cp "$top_srcdir/data/brokerd.json" "$dconf"
"${MAKE:-make}" -s -C "$top_builddir" DESTDIR="$D" uninstall-brokerd-json >"$T/un2.out" 2>&1
if [ $kept = yes ] && [ ! -e "$dconf" ]; then
	pass "uninstall keeps a changed brokerd.json and removes the unchanged example"
else
	fail "uninstall: changed file kept: $kept; unchanged example still there: $([ -e "$dconf" ] && echo yes || echo no)"
fi
finish
