#!/bin/sh
# tests/install/units.sh - `make installcheck`: the installed systemd units.
#   - systemd-analyze verify (system, and --user for the user unit) finds
#     nothing to say about either: no unknown key, no missing program;
#   - the system unit is Type=notify with /run/broker and /var/lib/broker
#     (RuntimeDirectory=, StateDirectory=, mode 0700), reloads with SIGHUP,
#     and carries the hardening (NoNewPrivileges, ProtectSystem=strict,
#     ProtectHome=read-only, PrivateTmp, a CapabilityBoundingSet);
#   - the user unit keeps its runtime dir under %t;
#   - each unit's ExecStart, run the way systemd would run it (its
#     directories and NOTIFY_SOCKET from this test), starts the installed
#     brokerd, which says READY=1 and answers brokerctl.
# TAP through tests/tap-run; one result per check on every path.
. "$top_srcdir/tests/integration/lib.sh"

plan 12
for v in INST_SBINDIR INST_BINDIR INST_MANDIR INST_SYSTEMDSYSTEMUNITDIR INST_SYSTEMDUSERUNITDIR; do
	eval "[ -n \"\${$v:-}\" ]" || bail "$v is not set (run this through make installcheck)"
done
command -v systemd-analyze >/dev/null 2>&1 || bail "systemd-analyze not installed (package systemd; scripts/bootstrap installs it)"
command -v python3 >/dev/null 2>&1 || bail "python3 not installed (scripts/bootstrap installs it)"
SYS=$INST_SYSTEMDSYSTEMUNITDIR/brokerd.service
USR=$INST_SYSTEMDUSERUNITDIR/brokerd.service
[ -f "$SYS" ] || bail "no system unit at $SYS"
[ -f "$USR" ] || bail "no user unit at $USR"

# 1-2: systemd-analyze verify has nothing to say (it warns about unknown
# keys and still exits 0, so its output must be empty too).  It also looks
# up the Documentation= man pages: the installed ones.
MANPATH=$INST_MANDIR
export MANPATH
cp "$SYS" "$T/brokerd.service"
if (cd "$T" && systemd-analyze verify ./brokerd.service) >"$T/verify.out" 2>&1 && ! grep -q . "$T/verify.out"; then
	pass "systemd-analyze verify $SYS: clean"
else
	fail "systemd-analyze verify $SYS: $(tr '\n' ' ' <"$T/verify.out")"
fi
mkdir -p "$T/user" "$T/xdg"
chmod 700 "$T/xdg"
cp "$USR" "$T/user/brokerd.service"
if (cd "$T/user" && XDG_RUNTIME_DIR=$T/xdg systemd-analyze --user verify ./brokerd.service) >"$T/verify-user.out" 2>&1 &&
	! grep -q . "$T/verify-user.out"; then
	pass "systemd-analyze --user verify $USR: clean"
else
	fail "systemd-analyze --user verify $USR: $(tr '\n' ' ' <"$T/verify-user.out")"
fi

# 3-7: what the system unit promises.  key FILE KEY: its value (the last one).
key() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
bad=""
[ "$(key "$SYS" Type)" = notify ] || bad="$bad Type=$(key "$SYS" Type)"
case $(key "$SYS" ExecStart) in "$INST_SBINDIR/brokerd "*) ;; *) bad="$bad ExecStart=$(key "$SYS" ExecStart)" ;; esac
if [ -z "$bad" ]; then pass "system unit: Type=notify, ExecStart=$(key "$SYS" ExecStart)"
else fail "system unit:$bad"; fi
if [ "$(key "$SYS" RuntimeDirectory)" = broker ] && [ "$(key "$SYS" RuntimeDirectoryMode)" = 0700 ] &&
	[ "$(key "$SYS" StateDirectory)" = broker ] && [ "$(key "$SYS" StateDirectoryMode)" = 0700 ]; then
	pass "system unit: /run/broker and /var/lib/broker, mode 0700"
else
	fail "system unit: RuntimeDirectory=$(key "$SYS" RuntimeDirectory) ($(key "$SYS" RuntimeDirectoryMode)), StateDirectory=$(key "$SYS" StateDirectory) ($(key "$SYS" StateDirectoryMode))"
fi
case $(key "$SYS" ExecReload) in
*"kill -HUP \$MAINPID") pass "system unit: ExecReload sends SIGHUP" ;;
*) fail "system unit: ExecReload=$(key "$SYS" ExecReload)" ;;
esac
if [ "$(key "$SYS" NoNewPrivileges)" = yes ] && [ "$(key "$SYS" ProtectSystem)" = strict ] &&
	[ "$(key "$SYS" ProtectHome)" = read-only ] && [ "$(key "$SYS" PrivateTmp)" = yes ]; then
	pass "system unit: NoNewPrivileges, ProtectSystem=strict, ProtectHome=read-only, PrivateTmp"
else
	fail "system unit hardening: NoNewPrivileges=$(key "$SYS" NoNewPrivileges) ProtectSystem=$(key "$SYS" ProtectSystem) ProtectHome=$(key "$SYS" ProtectHome) PrivateTmp=$(key "$SYS" PrivateTmp)"
fi
caps=$(key "$SYS" CapabilityBoundingSet)
missing=""
for c in CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_SYS_ADMIN; do
	case " $caps " in *" $c "*) ;; *) missing="$missing $c" ;; esac
done
# Nothing beyond what the plugins use: no blanket root.
for c in CAP_SETUID CAP_SYS_MODULE CAP_DAC_OVERRIDE; do
	case " $caps " in *" $c "*) missing="$missing (has $c)" ;; esac
done
if [ -n "$caps" ] && [ -z "$missing" ]; then pass "system unit: CapabilityBoundingSet=$caps"
else fail "system unit: CapabilityBoundingSet='$caps':$missing"; fi

# 8: the user unit's runtime dir is under %t.
if [ "$(key "$USR" Type)" = notify ] && [ "$(key "$USR" RuntimeDirectory)" = broker ] &&
	case $(key "$USR" ExecStart) in "$INST_SBINDIR/brokerd --runtime-dir %t/broker"*) true ;; *) false ;; esac; then
	pass "user unit: Type=notify, runtime dir %t/broker"
else
	fail "user unit: Type=$(key "$USR" Type) RuntimeDirectory=$(key "$USR" RuntimeDirectory) ExecStart=$(key "$USR" ExecStart)"
fi

# run_exec UNIT NAME: run the unit's ExecStart as systemd would (${X} from
# the environment, %t the runtime dir base), with NOTIFY_SOCKET; wait for READY=1.
run_exec() {
	_cmd=$(key "$1" ExecStart | sed -e "s|\${RUNTIME_DIRECTORY}|$T/$2/run/broker|g" \
		-e "s|\${STATE_DIRECTORY}|$T/$2/lib/broker|g" -e "s|%t|$T/$2/run|g")
	mkdir -p "$T/$2/run/broker" "$T/$2/lib/broker"
	chmod 700 "$T/$2/run/broker" "$T/$2/lib/broker"
	python3 "$top_srcdir/tests/tools/notify_sink.py" "$T/$2/notify" "$T/$2.notify" --lifetime 120 \
		>"$T/$2.sink.log" 2>&1 &
	record $!
	wait_until 10 test -S "$T/$2/notify" || return 1
	# shellcheck disable=SC2086 # the unit's command line, split as systemd splits it (no quotes in ours)
	NOTIFY_SOCKET=$T/$2/notify HOME=$T/$2/home $_cmd >"$T/$2.log" 2>&1 &
	_pid=$!
	record $_pid
	eval "PID_$2=$_pid"
	wait_until 20 grep -q 'READY=1' "$T/$2.notify"
}
# 9-12: each ExecStart starts the installed brokerd, which gets ready and answers.
BROKERCTL=$INST_BINDIR/brokerctl
for u in system user; do
	[ $u = system ] && f=$SYS || f=$USR
	if run_exec "$f" $u; then pass "$u unit's ExecStart: READY=1 ($(head -n 1 "$T/$u.notify"))"
	else fail "$u unit's ExecStart sent no READY=1: $(tail -n 3 "$T/$u.log" | tr '\n' ' ')"; fi
	if "$BROKERCTL" --runtime-dir "$T/$u/run/broker" status >"$T/$u.status" 2>&1; then
		pass "$u unit: brokerctl status answers on its runtime dir"
	else
		fail "$u unit: brokerctl status: $(cat "$T/$u.status")"
	fi
	eval "kill -TERM \$PID_$u" 2>/dev/null
done
finish
