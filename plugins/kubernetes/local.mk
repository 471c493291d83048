# Watcher plugin: NodePort and LoadBalancer services from a Kubernetes API
# server (list + watch over TLS).  Needs libevent_openssl and openssl.
if HAVE_LIBEVENT_OPENSSL
plugin_LTLIBRARIES += %reldir%/kubernetes.la
%canon_reldir%_kubernetes_la_SOURCES = %reldir%/kubernetes.c %reldir%/kubeconfig.c %reldir%/kubeconfig.h \
	%reldir%/service.c %reldir%/service.h plugins/common/httpc.c plugins/common/httpc.h
%canon_reldir%_kubernetes_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBEVENT_OPENSSL_CFLAGS) \
	$(JANSSON_CFLAGS)
%canon_reldir%_kubernetes_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_kubernetes_la_LIBADD = $(LIBEVENT_OPENSSL_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS)
endif
EXTRA_DIST += %reldir%/README.md
