#!/bin/sh
# Relative paths mean what a user means by them (brokerd(8), broker.conf(5)):
#   - --runtime-dir, --state-dir and --plugin-dir relative to the working
#     directory, for brokerd and for brokerctl (before: "--runtime-dir ./run"
#     was refused with "expected ipc:///absolute/path");
#   - runtime_dir, state_dir, plugin_dirs and link_secret in a config file
#     relative to that file's directory, wherever brokerd is started from;
#   - brokerctl status names the config file read and the plugin dirs.
. "$(dirname "$0")/lib.sh"
plan 11

serve echo echo "unix:$T/echo.sock"
W="$T/work"
mkdir -p "$W/plugins" "$W/etc/sub"
mkdir -m 700 "$W/run"
ln -s "$top_builddir/plugins/unix/.libs/unix.so" "$W/plugins/unix.so"
B=""
at_exit '[ -n "$B" ] && kill "$B" 2>/dev/null'

# start_in DIR ARGS...: brokerd started from DIR; waits until STATUS_RUN answers.
start_in() {
	_d=$1; shift
	(cd "$_d" && exec "$BROKERD" --log-level debug "$@") >"$T/b.log" 2>&1 &
	B=$!
	record "$B"
	if ! wait_until 15 "$BROKERCTL" --runtime-dir "$STATUS_RUN" status; then
		bail "brokerd ($*) from $_d did not answer: $(tail -n 3 "$T/b.log" | tr '\n' ' ')"
	fi
}
stop_b() { kill "$B" 2>/dev/null; wait_exit "$B" 15; B=""; }

# 1-5: flags relative to the working directory.
STATUS_RUN="$W/run"
start_in "$W" --runtime-dir ./run --state-dir state --plugin-dir plugins
if [ -S "$W/run/ctl.sock" ]; then pass "--runtime-dir ./run: the control socket is $W/run/ctl.sock"
else fail "no control socket in $W/run: $(ls -la "$W/run" 2>&1 | tr '\n' ' ')"; fi
if [ -f "$W/state/broker.db" ]; then pass "--state-dir state: the database is $W/state/broker.db"
else fail "no database in $W/state: $(ls -la "$W" 2>&1 | tr '\n' ' ')"; fi
(cd "$W" && "$BROKERCTL" --runtime-dir ./run status) >"$T/st.out" 2>&1
if grep -Fxq "runtime dir  $W/run" "$T/st.out" && grep -Fxq "state dir    $W/state" "$T/st.out"; then
	pass "brokerctl --runtime-dir ./run reaches it; status shows the absolute dirs"
else fail "brokerctl --runtime-dir ./run status: $(tr '\n' '|' <"$T/st.out")"; fi
if grep -Fxq "plugin dirs  $W/plugins" "$T/st.out" && grep -Fxq "config       none (no file read)" "$T/st.out"; then
	pass "status names the plugin dir ($W/plugins) and says no config file was read"
else fail "status: $(tr '\n' '|' <"$T/st.out")"; fi
(cd "$W" && "$BROKERCTL" --runtime-dir ./run route add r --listen "unix://$W/r.sock" --connect "unix://$T/echo.sock") \
	>"$T/add.out" 2>&1
check "the unix plugin from --plugin-dir plugins serves a route" "$XFER" send "unix:$W/r.sock" 64K --expect echo
stop_b

# 6-10: a config file's relative paths are taken from its directory, not from
# where brokerd starts (here: /).
mkdir -m 700 "$W/etc/sub/run2"
head -c 48 /dev/urandom >"$W/etc/secret"
chmod 600 "$W/etc/secret"
cat >"$W/etc/brokerd.json" <<EOF
{ "runtime_dir": "sub/run2", "state_dir": "./state2", "plugin_dirs": ["../plugins"], "link_secret": "secret" }
EOF
STATUS_RUN="$W/etc/sub/run2"
start_in / --config "$W/etc/brokerd.json"
if [ -S "$W/etc/sub/run2/ctl.sock" ] && [ -f "$W/etc/state2/broker.db" ]; then
	pass "runtime_dir and state_dir in the file are under the file's directory ($W/etc)"
else fail "file-relative dirs: $(ls -R "$W/etc" 2>&1 | tr '\n' ' ')"; fi
"$BROKERCTL" --runtime-dir "$STATUS_RUN" status >"$T/st2.out" 2>&1
if grep -Fxq "config       $W/etc/brokerd.json" "$T/st2.out"; then pass "status names the config file: $W/etc/brokerd.json"
else fail "status: $(tr '\n' '|' <"$T/st2.out")"; fi
if grep -Fxq "plugin dirs  $W/etc/../plugins" "$T/st2.out"; then pass "plugin_dirs [\"../plugins\"] is $W/etc/../plugins"
else fail "status: $(tr '\n' '|' <"$T/st2.out")"; fi
"$BROKERCTL" --runtime-dir "$STATUS_RUN" --json status >"$T/st2.json" 2>&1
if jq -e --arg f "$W/etc/brokerd.json" --arg p "$W/etc/../plugins" '.config_file == $f and .plugin_dirs == [$p]' \
	"$T/st2.json" >/dev/null; then
	pass "status --json has config_file and plugin_dirs"
else fail "status --json: $(cat "$T/st2.json")"; fi
stop_b
# The secret: --check-config from / reads it relative to the file, or it would say it is missing.
if (cd / && "$BROKERD" --config "$W/etc/brokerd.json" --link-listen "unix://$W/l.sock" --check-config) >"$T/cc.out" 2>&1; then
	pass "link_secret \"secret\" is $W/etc/secret (--check-config from / accepts it)"
else fail "--check-config with a file-relative link_secret: $(tr '\n' '|' <"$T/cc.out")"; fi

# 11: a relative --config is resolved before it is remembered.
STATUS_RUN="$W/etc/sub/run2"
start_in "$W" --config etc/brokerd.json
"$BROKERCTL" --runtime-dir "$STATUS_RUN" status >"$T/st3.out" 2>&1
if grep -Fxq "config       $W/etc/brokerd.json" "$T/st3.out"; then pass "--config etc/brokerd.json shows as $W/etc/brokerd.json"
else fail "status: $(tr '\n' '|' <"$T/st3.out")"; fi
stop_b
