#!/bin/sh
# tests/install/deb.sh - `make installcheck`: the Debian packages.  From
# these sources (a copy: the build writes into its tree) dpkg-buildpackage
# -b builds broker, broker-watchers and broker-dev; lintian finds no error;
# they install on this machine, where the packaged brokerd loads its plugins
# from the default dir with no flag and the units are in place; a purge
# leaves none of their files.  Needs root and the packaging tools
# (scripts/bootstrap installs debhelper, dpkg-dev, fakeroot and lintian);
# refuses to run where a broker package is already installed, since it
# would replace and then purge it.
# TAP through tests/tap-run; one result per check on every path.
. "$top_srcdir/tests/integration/lib.sh"

plan 12

[ "$(id -u)" -eq 0 ] || bail "needs root (dpkg -i / dpkg --purge)"
for t in dpkg-buildpackage dh lintian fakeroot; do
	command -v "$t" >/dev/null 2>&1 || bail "$t not installed (scripts/bootstrap installs it)"
done
[ -d "$top_srcdir/debian" ] || bail "no debian/ directory in $top_srcdir"
for p in broker broker-watchers broker-dev; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
		bail "the package $p is installed on this machine; this test would replace and purge it"
	fi
done
VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
ARCH=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
PLUGINDIR=/usr/lib/$MA/broker/plugins

# Purge whatever this test installed, however it ends.
purge() { dpkg --purge broker-dev broker-watchers broker >/dev/null 2>&1; }
at_exit purge

# 1: the packages build (a copy of the sources: the tarball's are read-only,
# and a checkout's build files must not leak into the package build).
SRC="$T/broker-$VERSION"
mkdir -p "$SRC"
if [ -e "$top_srcdir/.git" ]; then   # a checkout or a worktree (.git is a file there)
	(cd "$top_srcdir" && git ls-files -z | xargs -0 cp --parents -t "$SRC") || bail "copying the tracked sources failed"
else
	cp -a "$top_srcdir/." "$SRC/" || bail "copying $top_srcdir failed"
fi
chmod -R u+w "$SRC"
# Not make's variables: under `make installcheck prefix=...` they would
# send debian/rules' own make install elsewhere than debian/tmp.
if (cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u DESTDIR \
	DEB_BUILD_OPTIONS="nocheck parallel=$(nproc 2>/dev/null || echo 2)" \
	dpkg-buildpackage -b -us -uc) >"$T/build.log" 2>&1; then
	pass "dpkg-buildpackage -b -us -uc built the packages"
else
	fail "dpkg-buildpackage failed: $(tail -n 15 "$T/build.log" | tr '\n' '|')"
fi
DEBS=""
missing=""
for p in broker broker-watchers broker-dev; do
	f="$T/${p}_${VERSION}_$ARCH.deb"
	if [ -f "$f" ]; then DEBS="$DEBS $f"; else missing="$missing $(basename "$f")"; fi
done
# 2
if [ -z "$missing" ]; then pass "three packages: broker, broker-watchers, broker-dev ($VERSION, $ARCH)"
else bail "packages missing:$missing (have: $(ls "$T"/*.deb 2>/dev/null | xargs -n1 basename 2>/dev/null | tr '\n' ' '))"; fi

# 3: lintian, errors fail (warnings are listed in the log).
if lintian --fail-on error "$T/broker_${VERSION}_$ARCH.changes" >"$T/lintian.out" 2>&1; then
	pass "lintian: no errors ($(grep -c '^W:' "$T/lintian.out") warnings)"
else fail "lintian: $(grep '^E:' "$T/lintian.out" | head -n 5 | tr '\n' '|')"; fi
sed 's/^/# lintian: /' "$T/lintian.out"

# 4: what goes where: the watchers and the plugin interface in their own packages.
contents() { dpkg-deb -c "$T/${1}_${VERSION}_$ARCH.deb" | awk '{ print $6 }' | sed 's#^\./#/#'; }
ok4=1
for f in /usr/sbin/brokerd /usr/bin/brokerctl "$PLUGINDIR/unix.so" "$PLUGINDIR/tcp.so" /etc/broker/brokerd.json \
	/lib/systemd/system/brokerd.service /usr/lib/systemd/user/brokerd.service; do
	contents broker | grep -qx "$f" || { ok4=0; echo "# broker lacks $f"; }
done
contents broker | grep -q "$PLUGINDIR/docker.so" && { ok4=0; echo "# broker holds docker.so"; }
contents broker-watchers | grep -qx "$PLUGINDIR/docker.so" || { ok4=0; echo "# broker-watchers lacks docker.so"; }
contents broker-dev | grep -qx /usr/include/broker/plugin.h || { ok4=0; echo "# broker-dev lacks plugin.h"; }
contents broker-dev | grep -qx "/usr/lib/$MA/pkgconfig/broker.pc" || { ok4=0; echo "# broker-dev lacks broker.pc"; }
[ "$ok4" = 1 ] && pass "broker: daemon, ctl, endpoint plugins, config, units; broker-watchers: docker.so...; broker-dev: plugin.h, broker.pc" ||
	fail "package contents (see the lines above)"

# 5: they install.
# shellcheck disable=SC2086 # the package files, one word each
if dpkg -i $DEBS >"$T/install.log" 2>&1; then pass "dpkg -i installs the three packages"
else fail "dpkg -i: $(tail -n 8 "$T/install.log" | tr '\n' '|')"; fi

# 6: the packaged programs run.
out=$(/usr/sbin/brokerd --version 2>&1)
case $out in
"brokerd $VERSION "*) pass "/usr/sbin/brokerd --version: $out" ;;
*) fail "/usr/sbin/brokerd --version: '$out'" ;;
esac

# 7-8: brokerd with no --plugin-dir loads the packaged plugins, watchers included.
mkdir -p -m 700 "$T/run" "$T/state"
/usr/sbin/brokerd --runtime-dir "$T/run" --state-dir "$T/state" >"$T/brokerd.log" 2>&1 &
BPID=$!
record "$BPID"
if wait_until 20 /usr/bin/brokerctl --runtime-dir "$T/run" status >/dev/null 2>&1; then
	pass "the packaged brokerd starts and answers the packaged brokerctl"
else fail "the packaged brokerd: $(tail -n 5 "$T/brokerd.log" | tr '\n' '|')"; fi
/usr/bin/brokerctl --runtime-dir "$T/run" plugin list >"$T/plugins.out" 2>&1
absent=""
for p in unix tcp exec vsock docker containerd kubernetes iptables procnet wslproxy; do
	grep -qw "$p" "$T/plugins.out" || absent="$absent $p"
done
if [ -z "$absent" ]; then pass "it loaded every packaged plugin from $PLUGINDIR with no --plugin-dir"
else fail "plugins not loaded:$absent; plugin list: $(tr '\n' '|' <"$T/plugins.out")"; fi
kill "$BPID" 2>/dev/null
wait_exit "$BPID" 15

# 9: the units point at the packaged daemon.
if grep -q '^ExecStart=/usr/sbin/brokerd' /lib/systemd/system/brokerd.service &&
	grep -q '^ExecStart=/usr/sbin/brokerd' /usr/lib/systemd/user/brokerd.service; then
	pass "the system and user units are installed and start /usr/sbin/brokerd"
else fail "units: $(grep -h '^ExecStart' /lib/systemd/system/brokerd.service /usr/lib/systemd/user/brokerd.service 2>&1 | tr '\n' '|')"; fi

# 10: broker.pc from broker-dev names the plugin dir.
pcdir=$(PKG_CONFIG_PATH=/usr/lib/$MA/pkgconfig pkg-config --variable=plugindir broker 2>&1)
if [ "$pcdir" = "$PLUGINDIR" ]; then pass "broker-dev's broker.pc: plugindir=$pcdir"
else fail "broker.pc plugindir '$pcdir', want $PLUGINDIR"; fi

# 11-12: a purge removes everything, the config file included.
if dpkg --purge broker-dev broker-watchers broker >"$T/purge.log" 2>&1; then pass "dpkg --purge removes the three packages"
else fail "dpkg --purge: $(tail -n 8 "$T/purge.log" | tr '\n' '|')"; fi
left=""
for f in /usr/sbin/brokerd /usr/bin/brokerctl "$PLUGINDIR" /etc/broker/brokerd.json /lib/systemd/system/brokerd.service \
	/usr/lib/systemd/user/brokerd.service /usr/include/broker/plugin.h; do
	[ -e "$f" ] && left="$left $f"
done
if [ -z "$left" ]; then pass "nothing of the packages is left after the purge"
else fail "left after the purge:$left"; fi
