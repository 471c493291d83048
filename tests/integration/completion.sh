#!/bin/sh
# brokerctl completion bash|zsh (issue 13, part 6): the bash script, sourced
# in a real bash, completes commands, subcommands and - asking the running
# broker - route and plugin names; every command --help lists is offered;
# the zsh script is a #compdef file with the same commands; a wrong shell
# is a usage error.
. "$(dirname "$0")/lib.sh"
plan 9

command -v bash >/dev/null 2>&1 || bail "bash not installed"
serve echo echo "unix:$T/echo.sock"
start_broker
add_route web "unix://$T/web.sock" "unix://$T/echo.sock"
"$BROKERCTL" completion bash >"$T/c.bash" 2>"$T/c.err" || bail "brokerctl completion bash: $(cat "$T/c.err")"

# comp WORDS...: what bash's completion offers for the last word (may be empty).
comp() {
	bash -c '
		PATH="$1:$PATH"; shift
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_brokerctl
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
	' comp "$(dirname "$BROKERCTL")" "$T/c.bash" "$@"
}
out=$(bash -c ". '$T/c.bash'; complete -p brokerctl" 2>&1)
if [ "$out" = "complete -F _brokerctl brokerctl" ]; then pass "sourced in bash, it registers: $out"
else fail "complete -p brokerctl: $out"; fi
check_comp() { # DESC WANT WORDS...
	_d=$1; _w=$2; shift 2
	_got=$(comp "$@")
	if [ "$_got" = "$_w" ]; then pass "$_d: '$_got'"; else fail "$_d: got '$_got', want '$_w'"; fi
}
check_comp "brokerctl ro<TAB>" "route " brokerctl ro
check_comp "brokerctl route <TAB>" "add list rm " brokerctl route ""
check_comp "brokerctl --json au<TAB> (options skipped)" "autostart " brokerctl --json au
check_comp "route rm <TAB> asks the broker" "web " brokerctl --runtime-dir "$T/run" route rm ""
check_comp "plugin help u<TAB> asks the broker" "unix " brokerctl --runtime-dir "$T/run" plugin help u

# Every command --help lists is offered, and nothing else.
listed=$("$BROKERCTL" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z]*\).*/\1/p' | sort -u | tr '\n' ' ')
offered=$(comp brokerctl "")
if [ -n "$listed" ] && [ "$listed" = "$offered" ]; then pass "every command of --help is offered: $offered"
else fail "--help lists '$listed', completion offers '$offered'"; fi

"$BROKERCTL" completion zsh >"$T/c.zsh" 2>&1
missing=""
for w in $listed; do grep -q "compadd -- .*\\b$w\\b" "$T/c.zsh" || missing="$missing $w"; done
if [ "$(head -n 1 "$T/c.zsh")" = "#compdef brokerctl" ] && [ -z "$missing" ]; then
	pass "the zsh script is a #compdef brokerctl file offering the same commands"
else fail "zsh script: first line '$(head -n 1 "$T/c.zsh")', missing:$missing"; fi

"$BROKERCTL" completion fish >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 2 ] && [ "$(cat "$T/err")" = "brokerctl: completion: unknown shell 'fish' (bash or zsh)" ]; then
	pass "completion fish: exit 2, $(cat "$T/err")"
else fail "completion fish: exit $rc: $(cat "$T/err")"; fi
