#!/bin/sh
# The complete plugin in broker-plugin(7) EXAMPLES must be exactly
# tests/plugins/example.c (minus its config.h line), which the build
# compiles and the tests load: so the manual never shows code that does
# not build.  Also compile the extracted copy as an out-of-tree plugin
# author would, without the tree's config.h.
set -eu
srcdir=${top_srcdir:-.}
page=$srcdir/man/broker-plugin.7
code=$srcdir/tests/plugins/example.c
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The first literal display of EXAMPLES; undo mdoc's escapes.
awk '
	/^\.Sh EXAMPLES/ { ex = 1; next }
	ex && !lit && /^\.Bd -literal/ { lit = 1; next }
	lit && /^\.Ed/ { exit }
	lit { sub(/^\\&/, ""); gsub(/\\e/, "\\"); print }
' "$page" >"$tmp/man.c"
sed '/^#include "config.h"$/{N;d;}' "$code" >"$tmp/src.c"
if ! cmp -s "$tmp/man.c" "$tmp/src.c"; then
	echo "broker-plugin.7 EXAMPLES differs from tests/plugins/example.c:"
	diff -u "$tmp/src.c" "$tmp/man.c" || true
	exit 1
fi
echo "ok: broker-plugin.7 shows tests/plugins/example.c"

CC=${CC:-cc}
if ! command -v "$CC" >/dev/null 2>&1 || ! pkg-config --exists libevent 2>/dev/null; then
	echo "skip: no $CC or libevent for the out-of-tree build"
	exit 0
fi
# shellcheck disable=SC2046
if $CC -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror -Wno-unused-parameter \
	-I"$srcdir" $(pkg-config --cflags libevent) -o "$tmp/echo.so" "$tmp/man.c" \
	$(pkg-config --libs libevent); then
	echo "ok: the manual's example builds out of tree"
else
	echo "the manual's example does not build out of tree"
	exit 1
fi
