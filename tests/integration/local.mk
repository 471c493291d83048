# Integration tests: shell scripts that start real brokerd processes on a
# private temp dir (lib.sh) and drive them with brokerctl and tests/tools/xfer.
# The harness runs them with $(SHELL) (TEST_EXTENSIONS = .sh); exit 77 = skip.
%canon_reldir%_scripts = \
	%reldir%/route_unix.sh \
	%reldir%/route_tcp.sh \
	%reldir%/halfclose.sh \
	%reldir%/relay_splice.sh \
	%reldir%/concurrent.sh \
	%reldir%/persist.sh \
	%reldir%/ctl_errors.sh \
	%reldir%/ctl_garbage.sh \
	%reldir%/limits.sh \
	%reldir%/store_errors.sh \
	%reldir%/state_files.sh \
	%reldir%/runtime_dir.sh \
	%reldir%/health.sh \
	%reldir%/http_bounds.sh \
	%reldir%/reload.sh \
	%reldir%/paths.sh \
	%reldir%/completion.sh \
	%reldir%/check_config.sh \
	%reldir%/url_params.sh \
	%reldir%/quickstart.sh \
	%reldir%/man_examples.sh \
	%reldir%/drain.sh \
	%reldir%/help_in_step.sh \
	%reldir%/watch_docker.sh \
	%reldir%/setup_docker.sh \
	%reldir%/watch_procnet.sh \
	%reldir%/watch_wslproxy.sh \
	%reldir%/watch_iptables.sh \
	%reldir%/watch_containerd.sh \
	%reldir%/notify.sh
TESTS += $(%canon_reldir%_scripts)
EXTRA_DIST += %reldir%/lib.sh %reldir%/bounds_lib.sh $(%canon_reldir%_scripts)
