#!/bin/sh
# Another local user cannot take over the runtime dir (issue 9, case 7: the
# default for a user without XDG_RUNTIME_DIR is /tmp/broker-UID; another
# user pre-created it 0777, swapped ctl.sock for their own socket and
# received the victim's `brokerctl route add`).
# The victim is a fresh uid V (no XDG_RUNTIME_DIR, so its default is
# /tmp/broker-V); the attacker is nobody.  Both run through setpriv.
#  (a) nobody pre-creates /tmp/broker-V with mode 0777: V's brokerd refuses
#      to start and says whose the directory is;
#  (b) nobody serves its own ctl.sock there: V's brokerctl refuses to send
#      it anything (nothing arrives at nobody's socket), and so does root's;
#  (c) /tmp/broker-V is a symlink to a directory nobody owns: refused;
#  (d) V's own directory with mode 0755: refused with the chmod hint; after
#      chmod 700, V's brokerd starts and V's brokerctl route add works, and
#      root's brokerctl may talk to V's broker;
#  (e) V's own 0700 directory that nobody made writable afterwards (0777):
#      brokerctl refuses it even though the socket inside is V's.
. "$(dirname "$0")/lib.sh"
plan 13
[ "$(id -u)" = 0 ] || bail "needs root to run the victim and the attacker as other users"
command -v setpriv >/dev/null 2>&1 || bail "setpriv not installed (util-linux)"
command -v socat >/dev/null 2>&1 || bail "socat not installed"

V=$((40000 + $$ % 20000))
DEF=/tmp/broker-$V
[ -e "$DEF" ] && bail "$DEF exists already (another run?)"
at_exit "rm -rf '$DEF' '/tmp/brk-nobody-$V'"
chmod 755 "$T"
VHOME="$T/vhome"
mkdir -m 700 "$VHOME"
chown "$V:$V" "$VHOME"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_v() { setpriv --reuid="$V" --regid="$V" --clear-groups env -i HOME="$VHOME" PATH=/usr/bin:/bin "$@"; }

# v_brokerd NAME: start V's brokerd on its default runtime dir, wait for it to answer or exit (10 s).
v_brokerd() {
	# setpriv and env exec: $! is brokerd itself (a shell function would add a subshell).
	setpriv --reuid="$V" --regid="$V" --clear-groups env -i HOME="$VHOME" PATH=/usr/bin:/bin \
		"$BROKERD" $PLUGIN_ARGS --log-level debug >"$T/$1.log" 2>&1 &
	VPID=$!
	record $VPID
	_i=0
	while alive $VPID && ! as_v "$BROKERCTL" status >/dev/null 2>&1 && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}

# ---- (a) a directory another user made ----
as_nobody mkdir -m 777 "$DEF" || bail "nobody cannot create $DEF"
v_brokerd va
if wait_exit $VPID 10 && [ "$WAIT_RC" != 0 ] &&
	grep -q "runtime dir $DEF belongs to uid 65534, not to this user (uid $V)" "$T/va.log"; then
	pass "(a) V's brokerd refuses nobody's $DEF: $(grep -o 'runtime dir.*' "$T/va.log" | head -n 1 | cut -c1-140)"
else
	fail "(a) V's brokerd started in nobody's $DEF (or exited for another reason): $(tail -n 2 "$T/va.log" | tr '\n' ' ')"
	kill $VPID 2>/dev/null
fi

# ---- (b) nobody's socket where brokerctl looks ----
as_nobody socat -u "UNIX-LISTEN:$DEF/ctl.sock,fork" "OPEN:$DEF/stolen,creat,append" 2>/dev/null &
record $!
wait_until 5 test -S "$DEF/ctl.sock" || bail "nobody's socket did not appear"
as_v "$BROKERCTL" route add steal --listen "tcp://127.0.0.1:1" --connect "unix:///x" >"$T/vb.out" 2>&1
rc=$?
if [ $rc != 0 ] && grep -q "refusing $DEF/ctl.sock: its directory belongs to uid 65534" "$T/vb.out"; then
	pass "(b) V's brokerctl refuses: $(head -n 1 "$T/vb.out" | cut -c1-150)"
else fail "(b) V's brokerctl (exit $rc): $(head -n 2 "$T/vb.out" | tr '\n' ' ')"; fi
"$BROKERCTL" --runtime-dir "$DEF" status >"$T/rb.out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "refusing $DEF/ctl.sock: others can write to its directory" "$T/rb.out" &&
	pass "(b) root's brokerctl refuses it too: $(head -n 1 "$T/rb.out" | cut -c1-150)" ||
	fail "(b) root's brokerctl (exit $rc): $(head -n 2 "$T/rb.out" | tr '\n' ' ')"
sleep 0.5
[ ! -s "$DEF/stolen" ] && pass "(b) nothing reached nobody's socket" ||
	fail "(b) nobody's socket received $(wc -c <"$DEF/stolen") bytes: $(od -c "$DEF/stolen" | head -n 2 | tr '\n' ' ')"
rm -rf "$DEF"

# ---- (c) a symlink ----
as_nobody mkdir -m 777 "/tmp/brk-nobody-$V"
as_nobody ln -s "/tmp/brk-nobody-$V" "$DEF"
v_brokerd vc
if wait_exit $VPID 10 && [ "$WAIT_RC" != 0 ] && grep -q "runtime dir $DEF is a symbolic link" "$T/vc.log"; then
	pass "(c) a symlink at $DEF is refused"
else
	fail "(c) V's brokerd with a symlinked runtime dir: $(tail -n 2 "$T/vc.log" | tr '\n' ' ')"
	kill $VPID 2>/dev/null
fi
rm -rf "$DEF" "/tmp/brk-nobody-$V"

# ---- (d) V's own directory, too open, then right ----
as_v mkdir -m 755 "$DEF"
v_brokerd vd
if wait_exit $VPID 10 && [ "$WAIT_RC" != 0 ] && grep -q "runtime dir $DEF has mode 0755: other users could replace the control socket in it; run chmod 700 $DEF" "$T/vd.log"; then
	pass "(d) a 0755 runtime dir is refused with the chmod hint"
else
	fail "(d) V's brokerd with a 0755 runtime dir: $(tail -n 2 "$T/vd.log" | tr '\n' ' ')"
	kill $VPID 2>/dev/null
fi
as_v chmod 700 "$DEF"
v_brokerd vd2
alive $VPID && pass "(d) after chmod 700 V's brokerd runs" || bail "(d) V's brokerd: $(tail -n 3 "$T/vd2.log" | tr '\n' ' ')"
[ "$(stat -c %u:%a "$DEF/ctl.sock")" = "$V:600" ] && pass "(d) ctl.sock is V's, mode 600" ||
	fail "(d) ctl.sock: $(stat -c %u:%a "$DEF/ctl.sock")"
as_v "$BROKERCTL" route add ok --listen "unix://$VHOME/ok.sock" --connect "unix://$VHOME/x.sock" >"$T/vd.out" 2>&1 &&
	pass "(d) V's brokerctl route add works: $(head -n 1 "$T/vd.out" | cut -c1-120)" ||
	fail "(d) V's route add: $(cat "$T/vd.out")"
"$BROKERCTL" --runtime-dir "$DEF" route list >"$T/rd.out" 2>&1 && grep -qw ok "$T/rd.out" &&
	pass "(d) root's brokerctl may talk to V's broker" || fail "(d) root's brokerctl: $(head -n 2 "$T/rd.out" | tr '\n' ' ')"

# ---- (e) made writable later ----
chmod 777 "$DEF"
as_v "$BROKERCTL" status >"$T/ve.out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "refusing $DEF/ctl.sock: others can write to its directory $DEF (mode 0777)" "$T/ve.out" &&
	pass "(e) brokerctl refuses a socket whose directory others can write to" ||
	fail "(e) brokerctl in a 0777 dir (exit $rc): $(head -n 2 "$T/ve.out" | tr '\n' ' ')"
chmod 700 "$DEF"
as_v "$BROKERCTL" status >/dev/null 2>&1 && pass "(e) and talks again once it is 0700" ||
	fail "(e) brokerctl after chmod 700: $(as_v "$BROKERCTL" status 2>&1 | head -n 1)"
kill $VPID
wait_exit $VPID 20 && [ "$WAIT_RC" = 0 ] && pass "V's brokerd exits 0 on SIGTERM" || fail "V's brokerd stop: ${WAIT_RC:-killed}"
finish
