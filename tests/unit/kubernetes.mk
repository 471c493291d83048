# Unit test for the kubernetes watcher: the kubeconfig reader (libyaml), kubeconfig
# extraction and Service -> mapping conversion (compiled in), and the plugin
# (dlopen, fake host) against tests/tools/k8s_replay.py serving
# tests/fixtures/kubernetes/ (python3 and openssl: scripts/bootstrap).
check_PROGRAMS += %reldir%/test_kubernetes
TESTS += %reldir%/test_kubernetes
%canon_reldir%_test_kubernetes_SOURCES = %reldir%/test_kubernetes.c %reldir%/fake_host.c plugins/kubernetes/kubeconfig.c \
	plugins/kubernetes/kyaml.c plugins/kubernetes/service.c
%canon_reldir%_test_kubernetes_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS) $(YAML_CFLAGS) $(LIBCRYPTO_CFLAGS) \
	-DTOP_SRCDIR='"$(abs_top_srcdir)"' -DTOP_BUILDDIR='"$(abs_top_builddir)"'
%canon_reldir%_test_kubernetes_LDADD = $(LIBEVENT_LIBS) $(JANSSON_LIBS) $(YAML_LIBS) $(LIBCRYPTO_LIBS)
EXTRA_DIST += tests/tools/k8s_replay.py tests/fixtures/kubernetes/scenario.json \
	tests/fixtures/kubernetes/servicelist1.json tests/fixtures/kubernetes/servicelist2.json \
	tests/fixtures/kubernetes/servicelist3.json tests/fixtures/kubernetes/gone.json \
	tests/fixtures/kubernetes/watch1.jsonl tests/fixtures/kubernetes/watch2.jsonl \
	tests/fixtures/kubernetes/watch3.jsonl tests/fixtures/kubernetes/watch4.jsonl \
	tests/fixtures/kubernetes/watch5.jsonl
# The integration test (two brokers, a network namespace, the replay server).
TESTS += tests/integration/watch_kubernetes.sh
EXTRA_DIST += tests/integration/watch_kubernetes.sh
