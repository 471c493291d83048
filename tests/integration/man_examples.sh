#!/bin/sh
# tests/integration/man_examples.sh - the man pages say what the programs do
# (issue 16: "the man pages' examples are checked against real output"):
#   - brokerd(8) and broker.conf(5), as built, name the default config file
#     and plugin dir this build's brokerd uses (`brokerd --help`);
#   - brokerd(8)'s SYNOPSIS has every option `brokerd --help` lists;
#   - brokerctl(1)'s examples, run as written (the ports, paths and ids of
#     this test put in for the page's), print what the page shows, line for
#     line (runs of blanks count as one: table widths follow the values);
#   - brokerd(8)'s /metrics names are the ones a broker with a route and a
#     link serves, no more, no fewer;
#   - broker.conf(5)'s example files pass --check-config;
#   - broker-plugin(7)'s session with the example plugin (load, help, a
#     route, a client) prints what the page shows.
# The man pages are read as the build made them ($top_builddir/man); the
# plugin's code in broker-plugin(7) is tests/plugins/example-in-man.sh's.
# POSIX sh (dash).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/link_lib.sh"
plan 15

for t in jq curl socat; do command -v "$t" >/dev/null 2>&1 || bail "$t not installed (scripts/bootstrap installs it)"; done
MAN="$top_builddir/man"
for p in brokerd.8 broker.conf.5; do [ -s "$MAN/$p" ] || bail "$MAN/$p not built (make builds it from $p.in)"; done
CTL1="$top_srcdir/man/brokerctl.1"

# block PAGE FIRST: the literal block (.Bd -literal ... .Ed) of PAGE whose
# first line starts with FIRST, with the roff escapes \e and \& resolved.
block() {
	awk -v want="$2" '
		/^\.Bd -literal/ { inb = 1; first = 1; buf = ""; hit = 0; next }
		/^\.Ed/ { if (inb && hit) { printf "%s", buf; exit } inb = 0; next }
		inb { if (first && index($0, want) == 1) hit = 1; first = 0; buf = buf $0 "\n" }' "$1" |
		sed -e 's/\\e/\\/g' -e 's/\\&//g'
}

# run_block FILE: run the commands of a literal block as written and print
# the transcript: each command as the page has it, then what it printed
# (stdout and stderr).  "guest$ " and "host$ " run brokerctl against G and
# H, "$ " against A ($T/bin/brokerctl adds the runtime dir).
run_block() {
	: >"$T/ex.sh"
	_cmd=""
	while IFS= read -r _l; do
		if [ -z "$_cmd" ]; then
			case $_l in
			'guest$ '*) _who=G; _cmd=${_l#guest\$ } ;;
			'host$ '*) _who=H; _cmd=${_l#host\$ } ;;
			'$ '*) _who=A; _cmd=${_l#\$ } ;;
			*) continue ;;
			esac
			_shown=$_l
		else
			_cmd="$_cmd
$_l"
			_shown="$_shown
$_l"
		fi
		case $_l in *\\) continue ;; esac
		{
			echo "cat <<'EX_EOF'"
			printf '%s\n' "$_shown"
			echo "EX_EOF"
			echo "EX_RUN=$T/$_who; export EX_RUN"
			# $? of the command before, for "echo $?"
			echo '(exit "${_ex_rc:-0}")'
			printf '%s\n' "$_cmd"
			echo '_ex_rc=$?'
		} >>"$T/ex.sh"
		_cmd=""
	done <"$1"
	PATH="$T/bin:$PATH" sh "$T/ex.sh" 2>&1
}

# same_text EXPECTED ACTUAL: equal, runs of blanks counting as one.
same_text() { [ "$(tr -s ' ' <"$1")" = "$(tr -s ' ' <"$2")" ]; }

# example DESCRIPTION PAGE FIRST SED-SCRIPT: one check: the block, with
# SED-SCRIPT applied (the test's values for the page's), run, gives itself.
example() {
	block "$2" "$3" | sed -e "$4" >"$T/want.txt"
	[ -s "$T/want.txt" ] || { fail "$1: no example starting '$3' in $(basename "$2")"; return; }
	run_block "$T/want.txt" >"$T/got.txt"
	if same_text "$T/want.txt" "$T/got.txt"; then pass "$1"
	else fail "$1: the page shows [$(cat "$T/want.txt")] but it prints [$(cat "$T/got.txt")]"; fi
}

mkdir -p "$T/bin"
cat >"$T/bin/brokerctl" <<EOF
#!/bin/sh
exec "$BROKERCTL" --runtime-dir "\$EX_RUN" "\$@"
EOF
chmod 755 "$T/bin/brokerctl"

# --- paths chosen at build time ---------------------------------------------------
"$BROKERD" --help >"$T/help.txt" 2>&1 || bail "brokerd --help failed"
conf=$(awk '/^  --config / { getline; print $NF }' "$T/help.txt")
pdir=$(awk '/^  --plugin-dir / { getline; print $NF }' "$T/help.txt")
case $conf in /*brokerd.json) ;; *) bail "no default config path in brokerd --help: '$conf'" ;; esac
if grep -qxF ".It Pa $conf" "$MAN/brokerd.8" && grep -qxF ".Pa $conf" "$MAN/brokerd.8"; then
	pass "brokerd(8) names the default config file this brokerd reads: $conf"
else fail "brokerd(8) does not name $conf (it says: $(grep -o '[^ ]*/broker/brokerd.json' "$MAN/brokerd.8" | sort -u | tr '\n' ' '))"; fi
if grep -qxF ".Pa $pdir" "$MAN/brokerd.8" && grep -qxF ".It Pa $pdir/*.so" "$MAN/brokerd.8"; then
	pass "brokerd(8) names this build's plugin dir: $pdir"
else fail "brokerd(8) does not name the plugin dir $pdir"; fi
if [ "$(awk '/^\.Sh SYNOPSIS/ { getline; print; exit }' "$MAN/broker.conf.5")" = ".Pa $conf" ]; then
	pass "broker.conf(5)'s SYNOPSIS is $conf"
else fail "broker.conf(5)'s SYNOPSIS: $(awk '/^\.Sh SYNOPSIS/ { getline; print; exit }' "$MAN/broker.conf.5")"; fi

# --- brokerd(8) SYNOPSIS and --help ---------------------------------------------------
synopsis=$(awk '/^\.Sh SYNOPSIS/ { on = 1; next } on && /^\.Sh / { exit } on' "$MAN/brokerd.8")
missing=""
for o in $(grep -o '^  --[a-z][a-z-]*' "$T/help.txt" | sed 's/^  --//' | sort -u); do
	echo "$synopsis" | grep -q -- "-$o\\b" || missing="$missing --$o"
done
if [ -z "$missing" ]; then pass "brokerd(8)'s SYNOPSIS has every option of brokerd --help"
else fail "brokerd(8)'s SYNOPSIS lacks:$missing"; fi

# --- brokerctl(1): routes, errors, reload on one broker (A) -------------------------------
P1=$(free_port) || bail "no free port"
P2=$(free_port) || bail "no free port"
H1=$(free_port) || bail "no free port"
H2=$(free_port) || bail "no free port"
printf '{ "http_listen": "127.0.0.1:%s" }\n' "$H1" >"$T/a.json"
bstart A --config "$T/a.json"
S="s|127\\.0\\.0\\.1:8080|127.0.0.1:$P1|g; s|127\\.0\\.0\\.1:8081|127.0.0.1:$P2|g; s|/run/app\\.sock|$T/app.sock|g"
S="$S; s|127\\.0\\.0\\.1:9180|127.0.0.1:$H1|g; s|127\\.0\\.0\\.1:9181|127.0.0.1:$H2|g"
example "brokerctl(1): route add prints what the page shows" "$CTL1" '$ brokerctl route add web --listen' "$S"
example "brokerctl(1): route list prints what the page shows" "$CTL1" '$ brokerctl route list' "$S"
example "brokerctl(1): the bytes of a route from --json" "$CTL1" '$ brokerctl --json route list' "$S"
example "brokerctl(1): a taken route name, its message and exit status" "$CTL1" \
	'$ brokerctl route add web --listen tcp://127.0.0.1:8081' "$S"
printf '{ "http_listen": "127.0.0.1:%s" }\n' "$H2" >"$T/a.json"
example "brokerctl(1): reload names a setting that needs a restart" "$CTL1" '$ brokerctl reload' "$S"

# --- brokerctl(1): mapping add on a guest linked to a host ---------------------------------
serve echo echo "tcp:127.0.0.1:0"
ECHO=${SERVE_ADDR#tcp:}
M=$(free_port) || bail "no free port"
HM=$(free_port) || bail "no free port"
bstart G --link-listen "unix://$T/link.sock"
bstart H --link-connect "unix://$T/link.sock" --http-listen "127.0.0.1:$HM"
wait_link_up G 20 || bail "the link between G and H did not come up"
HID=$(bctl G --json link status | jq -r '.[] | select(.state == "up") | .peer_id' | head -n 1)
example "brokerctl(1): mapping add and rm on the guest print what the page shows" "$CTL1" \
	'guest$ brokerctl mapping add' "s|127\\.0\\.0\\.1:80\\b|$ECHO|g; s|8080|$M|g; s|host-5e0c1d2a3b4f|$HID|g"

# --- broker-plugin(7): load, look at and use the example plugin ------------------------------
# The page's plugin dir becomes $T/pl, holding this build's example.so as echo.so.
mkdir -p "$T/pl"
cp "$top_builddir/tests/plugins/.libs/example.so" "$T/pl/echo.so" || bail "the example plugin is not built"
example "broker-plugin(7): the example plugin's session prints what the page shows" \
	"$top_srcdir/man/broker-plugin.7" '$ brokerctl plugin load' \
	"s|\"\$(pkg-config --variable=plugindir broker)/echo.so\"|$T/pl/echo.so|; s|/usr/local/lib/broker/plugins|$T/pl|g; s|/tmp/echo\.sock|$T/echo.sock|g"

# --- brokerd(8): the /metrics names ----------------------------------------------------
bctl H route add m --listen "tcp://127.0.0.1:0" --connect "tcp://$ECHO" >/dev/null 2>&1 ||
	bail "route add on H failed"
curl -sf -m 10 "http://127.0.0.1:$HM/metrics" >"$T/metrics.txt" || bail "no /metrics from H"
awk '/^# TYPE / { print $3 }' "$T/metrics.txt" | sort -u >"$T/served.txt"
awk '/^\.It Pa \/metrics/ { on = 1; next } on && /^\.(It|El)/ { exit } on' "$MAN/brokerd.8" |
	grep -o 'broker_[a-z_]*' | sort -u >"$T/paged.txt"
[ "$(wc -l <"$T/served.txt")" -ge 10 ] || bail "H serves too few metrics: $(cat "$T/served.txt" | tr '\n' ' ')"
extra=$(comm -13 "$T/served.txt" "$T/paged.txt" | tr '\n' ' ')
unnamed=$(comm -23 "$T/served.txt" "$T/paged.txt" | tr '\n' ' ')
if [ -z "$extra" ]; then pass "every metric brokerd(8) names is served"
else fail "brokerd(8) names metrics nobody serves: $extra"; fi
if [ -z "$unnamed" ]; then pass "every metric served is named in brokerd(8) ($(wc -l <"$T/served.txt"))"
else fail "served but not in brokerd(8): $unnamed"; fi

# --- broker.conf(5): the example files pass --check-config --------------------------------
# The page's system paths become the test's; the plugin dir becomes this
# build's (in the file for the first, in BROKER_PLUGIN_DIR for the second).
plugdirs=$(for d in "$top_builddir"/plugins/*/.libs; do printf '"%s", ' "$d"; done)
CS="s|\"/run/broker\"|\"$T/cr\"|; s|\"/var/lib/broker\"|\"$T/cs\"|; s|\\[\"$pdir\"\\]|[${plugdirs%, }]|"
n=0
for first in '{' '{'; do
	n=$((n + 1))
	# the n-th block that starts with '{'
	awk -v n="$n" '/^\.Bd -literal/ { inb = 1; first = 1; buf = ""; next }
		/^\.Ed/ { if (inb && hit && ++k == n) { printf "%s", buf; exit } inb = 0; hit = 0; next }
		inb { if (first && $0 == "{") hit = 1; first = 0; buf = buf $0 "\n" }' "$MAN/broker.conf.5" |
		sed -e 's/\\&//g' -e "$CS" >"$T/conf$n.json"
	BROKER_STATE_DIR="$T/cs" BROKER_RUNTIME_DIR="$T/cr" BROKER_PLUGIN_DIR="$(printf '%s:' "$top_builddir"/plugins/*/.libs)" "$BROKERD" --config "$T/conf$n.json" --check-config >"$T/cc$n.out" 2>&1
	rc=$?
	if [ -s "$T/conf$n.json" ] && [ "$rc" -eq 0 ] && grep -q "^brokerd: configuration OK" "$T/cc$n.out"; then
		pass "broker.conf(5)'s example $n passes --check-config"
	else fail "broker.conf(5)'s example $n: exit $rc: $(cat "$T/cc$n.out") [$(cat "$T/conf$n.json")]"; fi
done
finish
