# brokerctl: steers a running brokerd over the control RPC and prints its event feed.
bin_PROGRAMS += %reldir%/brokerctl
if PLATFORM_WINDOWS
CTL_PLATFORM_SOURCES = %reldir%/sys_win32.c %reldir%/autostart_win32.c
CTL_PLATFORM_LIBS = -lole32 -loleaut32
else
CTL_PLATFORM_SOURCES = %reldir%/sys_posix.c %reldir%/autostart_none.c
CTL_PLATFORM_LIBS =
endif
%canon_reldir%_brokerctl_SOURCES = \
	%reldir%/brokerctl.c %reldir%/brokerctl.h \
	%reldir%/output.c \
	%reldir%/session.c \
	%reldir%/cmd_status.c \
	%reldir%/cmd_route.c \
	%reldir%/cmd_plugin.c \
	%reldir%/cmd_mapping.c \
	%reldir%/cmd_watch.c \
	%reldir%/cmd_setup.c \
	%reldir%/cmd_autostart.c %reldir%/autostart.h \
	%reldir%/cmd_completion.c \
	$(CTL_PLATFORM_SOURCES)
%canon_reldir%_brokerctl_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(NNG_CFLAGS) $(JANSSON_CFLAGS)
%canon_reldir%_brokerctl_LDADD = rpc/librpc.la $(NNG_LIBS) $(JANSSON_LIBS) $(CTL_PLATFORM_LIBS)

# The completion scripts come from brokerctl itself (one source of truth),
# made at build time; not on Windows (no bash-completion there).
if !PLATFORM_WINDOWS
bashcompletiondir = $(datadir)/bash-completion/completions
bashcompletion_DATA = %reldir%/completion/brokerctl
zshcompletiondir = $(datadir)/zsh/vendor-completions
zshcompletion_DATA = %reldir%/completion/_brokerctl
CLEANFILES += $(bashcompletion_DATA) $(zshcompletion_DATA)
%reldir%/completion/brokerctl: %reldir%/brokerctl$(EXEEXT)
	@$(MKDIR_P) %reldir%/completion
	$(AM_V_GEN)%reldir%/brokerctl$(EXEEXT) completion bash >$@.tmp && mv $@.tmp $@
%reldir%/completion/_brokerctl: %reldir%/brokerctl$(EXEEXT)
	@$(MKDIR_P) %reldir%/completion
	$(AM_V_GEN)%reldir%/brokerctl$(EXEEXT) completion zsh >$@.tmp && mv $@.tmp $@
endif
