#!/bin/sh
# fuzz.sh - `make check` entry for the libFuzzer targets: build them with
# clang against this build tree and run each for a short, bounded time
# (FUZZ_SECONDS, default 15).  Skips (77) with the reason when clang or
# libFuzzer is missing.  Longer runs: tests/fuzz/run BUILD_DIR directly.
here=$(cd "$(dirname "$0")" && pwd)
builddir=${top_builddir:-$(pwd)}
cc=${CC_FUZZ:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "SKIP: $cc not found; the fuzz targets need clang with libFuzzer"
	exit 77
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
export FUZZ_SECONDS
exec "$here/run" "$builddir"
