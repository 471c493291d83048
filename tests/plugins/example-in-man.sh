#!/bin/sh
# The complete plugin in broker-plugin(7) EXAMPLES must be exactly
# tests/plugins/example.c (minus its config.h line), which the build
# compiles and the tests load: so the manual never shows code that does
# not build.  Also compile the extracted copy as an out-of-tree plugin
# author would, without the tree's config.h.  TAP, 2 results.
set -u
srcdir=${top_srcdir:-.}
page=$srcdir/man/broker-plugin.7
code=$srcdir/tests/plugins/example.c
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "1..2"

# The first literal display of EXAMPLES; undo mdoc's escapes.
awk '
	/^\.Sh EXAMPLES/ { ex = 1; next }
	ex && !lit && /^\.Bd -literal/ { lit = 1; next }
	lit && /^\.Ed/ { exit }
	lit { sub(/^\\&/, ""); gsub(/\\e/, "\\"); print }
' "$page" >"$tmp/man.c"
sed '/^#include "config.h"$/{N;d;}' "$code" >"$tmp/src.c"
failed=0
if [ -s "$tmp/man.c" ] && cmp -s "$tmp/man.c" "$tmp/src.c"; then
	echo "ok 1 - broker-plugin.7 shows tests/plugins/example.c"
else
	echo "not ok 1 - broker-plugin.7 EXAMPLES differs from tests/plugins/example.c:"
	diff -u "$tmp/src.c" "$tmp/man.c" | sed 's/^/# /'
	failed=1
fi

# A missing compiler or libevent is a broken machine (scripts/bootstrap installs both), not a skip.
CC=${CC:-cc}
# shellcheck disable=SC2046
if ! command -v "$CC" >/dev/null 2>&1 || ! pkg-config --exists libevent 2>/dev/null; then
	echo "not ok 2 - the manual's example builds out of tree: no $CC or no libevent.pc (run scripts/bootstrap)"
	failed=1
# The manual's own build command, with -Werror: the reader sees no warning.
elif $CC -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror \
	-I"$srcdir" $(pkg-config --cflags libevent) -o "$tmp/echo.so" "$tmp/man.c" \
	$(pkg-config --libs libevent) >"$tmp/cc.out" 2>&1 && [ -s "$tmp/echo.so" ]; then
	echo "ok 2 - the manual's example builds out of tree"
else
	echo "not ok 2 - the manual's example does not build out of tree:"
	sed 's/^/# /' "$tmp/cc.out"
	failed=1
fi
exit "$failed"
