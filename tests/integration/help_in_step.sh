#!/bin/sh
# tests/integration/help_in_step.sh - README's layout, `brokerd --help` and
# `brokerctl --help` say what the code has:
#   - every plugins/NAME/ folder is named in README.md's Layout section and
#     has its README.md;
#   - every long option in broker/config.c's getopt table and every limit
#     in broker/config_limits.c's table is in `brokerd --help`;
#   - every command and subcommand brokerctl.c dispatches is in
#     `brokerctl --help`;
#   - `brokerd --bogus` says one line with one hint, and exits 2.
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
plan 7

# --- README layout and the plugin folders ---
layout=$(awk '/^## Layout/ { on = 1; next } on && /^## / { exit } on' "$top_srcdir/README.md")
[ -n "$layout" ] || bail "README.md has no Layout section"
plugins=$(cd "$top_srcdir/plugins" && for d in */; do d=${d%/}; [ "$d" = common ] || echo "$d"; done)
missing=""
for p in $plugins; do
	echo "$layout" | grep -qw -- "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then pass "README.md's layout names every plugin: $(echo $plugins)"
else fail "README.md's layout does not name the plugins:$missing"; fi
nodoc=""
for p in $plugins; do [ -f "$top_srcdir/plugins/$p/README.md" ] || nodoc="$nodoc $p"; done
if [ -z "$nodoc" ]; then pass "every plugin folder has its README.md"
else fail "plugins without a README.md:$nodoc"; fi

# --- brokerd --help and config.c's options ---
opts=$(grep -o '{ "[a-z][a-z-]*", *\(required\|no\|optional\)_argument' "$top_srcdir/broker/config.c" |
	cut -d'"' -f2 | sort -u)
[ "$(echo "$opts" | grep -c .)" -ge 10 ] || bail "could not read the option table of broker/config.c: '$opts'"
# The limits are options too, one per row of broker/config_limits.c's table
# ({ "link-max-streams", "BROKER_LINK_MAX_STREAMS", ...).
lopts=$(grep -o '{ "[a-z][a-z-]*", "BROKER_[A-Z_]*"' "$top_srcdir/broker/config_limits.c" | cut -d'"' -f2 | sort -u)
[ "$(echo "$lopts" | grep -c .)" -ge 5 ] || bail "could not read the limits table of broker/config_limits.c: '$lopts'"
opts=$(printf '%s\n%s\n' "$opts" "$lopts" | sort -u)
"$BROKERD" --help >"$T/brokerd.help" 2>&1 || fail "brokerd --help exited non-zero"
missing=""
for o in $opts; do grep -q -- "--$o\b" "$T/brokerd.help" || missing="$missing --$o"; done
if [ -z "$missing" ]; then pass "brokerd --help lists all $(echo "$opts" | grep -c .) options of broker/config.c and config_limits.c"
else fail "brokerd --help does not list:$missing"; fi

# --- brokerctl --help and what brokerctl.c dispatches ---
src="$top_srcdir/ctl/brokerctl.c"
"$BROKERCTL" --help >"$T/brokerctl.help" 2>&1 || fail "brokerctl --help exited non-zero"
cmds=$(sed -n 's/.*strcmp(cmd, "\([a-z]*\)") == 0.*/\1/p' "$src" | sort -u)
[ -n "$cmds" ] || bail "could not read the commands of ctl/brokerctl.c"
missing=""
for c in $cmds; do grep -Eq "^  $c( |$)" "$T/brokerctl.help" || missing="$missing $c"; done
if [ -z "$missing" ]; then pass "brokerctl --help has every command: $(echo $cmds)"
else fail "brokerctl --help lacks the commands:$missing"; fi
# The subcommand tables: static const char *const route_subs[] = { "list", "add", "rm", NULL };
subs=$(sed -n 's/^static const char \*const \([a-z]*\)_subs\[\] = { \(.*\), NULL };/\1 \2/p' "$src" | tr -d '",')
[ -n "$subs" ] || bail "could not read the subcommand tables of ctl/brokerctl.c"
missing=""
echo "$subs" >"$T/subs"
while read -r c rest; do
	for s in $rest; do grep -Eq "^  $c $s( |$)" "$T/brokerctl.help" || missing="$missing '$c $s'"; done
done <"$T/subs"
if [ -z "$missing" ]; then pass "brokerctl --help has every subcommand: $(tr '\n' ';' <"$T/subs")"
else fail "brokerctl --help lacks:$missing"; fi
check "brokerctl --help has link status" grep -Eq "^  link status( |$)" "$T/brokerctl.help"

# --- an unknown brokerd option: one line, one hint ---
"$BROKERD" --bogus >"$T/bogus.out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && [ "$(cat "$T/bogus.out")" = "brokerd: unknown option '--bogus' (see --help)" ]; then
	pass "brokerd --bogus: one line, one hint, exit 2"
else fail "brokerd --bogus: exit $rc: $(cat "$T/bogus.out")"; fi
finish
