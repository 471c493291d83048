# Unit test for the docker watcher plugin: dlopen'ed from
# $top_builddir/plugins/docker/.libs, driven through a fake host table,
# against a fake dockerd on a unix socket serving tests/unit/docker/*.json.
check_PROGRAMS += %reldir%/test_docker
TESTS += %reldir%/test_docker
%canon_reldir%_test_docker_SOURCES = %reldir%/test_docker.c %reldir%/fake_host.c
%canon_reldir%_test_docker_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
%canon_reldir%_test_docker_LDADD = $(LIBEVENT_LIBS)
EXTRA_DIST += %reldir%/docker/list.json %reldir%/docker/list_after_restart.json \
	%reldir%/docker/inspect_web.json %reldir%/docker/inspect_mixed.json \
	%reldir%/docker/inspect_hostile_ports.json %reldir%/docker/inspect_truncated.json \
	%reldir%/docker/inspect_wrong_types.json %reldir%/docker/inspect_ports_string.json \
	%reldir%/docker/inspect_other_id.json %reldir%/docker/inspect_stopped.json \
	%reldir%/docker/inspect_array.json %reldir%/docker/inspect_racer.json \
	%reldir%/docker/event_start.json \
	%reldir%/docker/event_die.json %reldir%/docker/event_network.json
