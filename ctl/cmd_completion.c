/* cmd_completion.c - brokerctl completion bash|zsh: the shell completion
 * scripts (make install puts them where bash-completion and zsh look).
 * Commands and subcommands are completed from the same words brokerctl
 * accepts; route and plugin names are asked of the running broker
 * (brokerctl --json route list / plugin list), quietly, when it answers. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ctl/brokerctl.h"

static const char bash_script[] =
	"# bash completion for brokerctl (brokerctl completion bash)\n"
	"_brokerctl_names() {\n"
	"\tbrokerctl ${_brokerctl_rundir:+--runtime-dir \"$_brokerctl_rundir\"} --timeout 2 --json \"$1\" list 2>/dev/null |\n"
	"\t\tsed -n 's/^ *\"name\": \"\\([^\"]*\\)\".*/\\1/p'\n"
	"}\n"
	"_brokerctl() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} i w cmd= sub= _brokerctl_rundir=\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tcase $w in\n"
	"\t\t--runtime-dir) _brokerctl_rundir=${COMP_WORDS[i + 1]}; i=$((i + 1)) ;;\n"
	"\t\t--timeout|--count|--listen|--connect|--max-connections|--proto|--host-ip|--owner|--description|--socket|--name) i=$((i + 1)) ;;\n"
	"\t\t-*) ;;\n"
	"\t\t*) if [ -z \"$cmd\" ]; then cmd=$w; elif [ -z \"$sub\" ]; then sub=$w; fi ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tcase ${COMP_WORDS[COMP_CWORD - 1]} in\n"
	"\t--runtime-dir) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n"
	"\t--proto) COMPREPLY=($(compgen -W 'tcp udp' -- \"$cur\")); return ;;\n"
	"\tesac\n"
	"\tif [[ $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W '--runtime-dir --json --timeout --help --version' -- \"$cur\"))\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tcase $cmd/$sub in\n"
	"\t/) COMPREPLY=($(compgen -W '" CTL_COMMAND_WORDS "' -- \"$cur\")) ;;\n"
	"\troute/) COMPREPLY=($(compgen -W 'list add rm' -- \"$cur\")) ;;\n"
	"\tmapping/) COMPREPLY=($(compgen -W 'list add rm' -- \"$cur\")) ;;\n"
	"\tplugin/) COMPREPLY=($(compgen -W 'list help load unload' -- \"$cur\")) ;;\n"
	"\tlink/) COMPREPLY=($(compgen -W 'status' -- \"$cur\")) ;;\n"
	"\tsetup/) COMPREPLY=($(compgen -W 'docker' -- \"$cur\")) ;;\n"
	"\tautostart/) COMPREPLY=($(compgen -W 'enable disable status' -- \"$cur\")) ;;\n"
	"\tcompletion/) COMPREPLY=($(compgen -W 'bash zsh' -- \"$cur\")) ;;\n"
	"\troute/rm) COMPREPLY=($(compgen -W \"$(_brokerctl_names route)\" -- \"$cur\")) ;;\n"
	"\tplugin/help|plugin/unload) COMPREPLY=($(compgen -W \"$(_brokerctl_names plugin)\" -- \"$cur\")) ;;\n"
	"\tplugin/load) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	"\tesac\n"
	"}\n"
	"complete -F _brokerctl brokerctl\n";

static const char zsh_script[] =
	"#compdef brokerctl\n"
	"# zsh completion for brokerctl (brokerctl completion zsh)\n"
	"_brokerctl() {\n"
	"\tlocal -a words_left\n"
	"\tlocal cmd=${words[2]} sub=${words[3]}\n"
	"\tcase $CURRENT in\n"
	"\t2) compadd -- " CTL_COMMAND_WORDS " ;;\n"
	"\t3) case $cmd in\n"
	"\t\troute|mapping) compadd -- list add rm ;;\n"
	"\t\tplugin) compadd -- list help load unload ;;\n"
	"\t\tlink) compadd -- status ;;\n"
	"\t\tsetup) compadd -- docker ;;\n"
	"\t\tautostart) compadd -- enable disable status ;;\n"
	"\t\tcompletion) compadd -- bash zsh ;;\n"
	"\t\tesac ;;\n"
	"\t*) case $cmd/$sub in\n"
	"\t\troute/rm) compadd -- ${(f)\"$(brokerctl --timeout 2 --json route list 2>/dev/null | sed -n 's/^ *\"name\": \"\\([^\"]*\\)\".*/\\1/p')\"} ;;\n"
	"\t\tplugin/help|plugin/unload) compadd -- ${(f)\"$(brokerctl --timeout 2 --json plugin list 2>/dev/null | sed -n 's/^ *\"name\": \"\\([^\"]*\\)\".*/\\1/p')\"} ;;\n"
	"\t\tplugin/load) _files ;;\n"
	"\t\tesac ;;\n"
	"\tesac\n"
	"}\n"
	"compdef _brokerctl brokerctl\n";

int cmd_completion(const struct opts *o)
{
	const char *shell = o->nargs > 1 ? o->args[1] : NULL;

	if (!shell)
		return die(EXIT_USAGE, "completion: missing shell (bash or zsh)");
	if (o->nargs > 2)
		return die(EXIT_USAGE, "completion: unexpected argument '%s'", o->args[2]);
	if (strcmp(shell, "bash") == 0)
		fputs(bash_script, stdout);
	else if (strcmp(shell, "zsh") == 0)
		fputs(zsh_script, stdout);
	else
		return die(EXIT_USAGE, "completion: unknown shell '%s' (bash or zsh)", shell);
	return 0;
}
