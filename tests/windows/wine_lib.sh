# tests/windows/wine_lib.sh - sourced after tests/integration/lib.sh by the
# Windows tests that start wine themselves: wine quiet, and a prefix of the
# test's own (in $T) unless the caller (scripts/test-windows) gives one; the
# test's own prefix has its wineserver stopped at exit (lib.sh's cleanup
# keeps the test's exit status).
export WINEDEBUG=-all
if [ -z "${WINEPREFIX:-}" ]; then
	WINEPREFIX="$T/wine"
	OWN_PREFIX=1
fi
export WINEPREFIX
wine_cleanup() {
	[ -n "${OWN_PREFIX:-}" ] && WINEPREFIX="$WINEPREFIX" wineserver -k 2>/dev/null
	return 0
}
at_exit wine_cleanup
