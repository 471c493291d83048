# Watcher plugin: NodePort and LoadBalancer services from a Kubernetes API
# server (list + watch over HTTPS with libcurl, kubeconfig with libyaml,
# certificates checked with OpenSSL's libcrypto; configure requires them on
# Linux).  plugins/common/curlev.c (libcurl on the loop) is compiled in.
plugin_LTLIBRARIES += %reldir%/kubernetes.la
%canon_reldir%_kubernetes_la_SOURCES = %reldir%/kubernetes.c %reldir%/kube.h %reldir%/kube_watch.c \
	%reldir%/kube_tls.c %reldir%/kubeconfig.c %reldir%/kubeconfig.h %reldir%/kyaml.c \
	%reldir%/service.c %reldir%/service.h plugins/common/curlev.c plugins/common/curlev.h
%canon_reldir%_kubernetes_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS) $(LIBCURL_CFLAGS) \
	$(YAML_CFLAGS) $(LIBCRYPTO_CFLAGS)
# -z nodelete: libcurl (and the TLS library under it) must stay mapped once
# loaded; the core dlclose()s plugins when it stops them.
%canon_reldir%_kubernetes_la_LDFLAGS = $(PLUGIN_LDFLAGS) -Wl,-z,nodelete
%canon_reldir%_kubernetes_la_LIBADD = $(LIBEVENT_LIBS) $(JANSSON_LIBS) $(LIBCURL_LIBS) $(YAML_LIBS) \
	$(LIBCRYPTO_LIBS)
EXTRA_DIST += %reldir%/README.md
