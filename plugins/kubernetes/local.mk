# Watcher plugin: NodePort and LoadBalancer services from a Kubernetes API
# server (list + watch over TLS).  Needs libevent_openssl, openssl and libyaml
# (configure requires them on Linux).
plugin_LTLIBRARIES += %reldir%/kubernetes.la
%canon_reldir%_kubernetes_la_SOURCES = %reldir%/kubernetes.c %reldir%/kubeconfig.c %reldir%/kubeconfig.h %reldir%/kyaml.c \
	%reldir%/service.c %reldir%/service.h plugins/common/httpc.c plugins/common/httpc.h
%canon_reldir%_kubernetes_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBEVENT_OPENSSL_CFLAGS) \
	$(JANSSON_CFLAGS) $(YAML_CFLAGS) $(LIBCRYPTO_CFLAGS)
# -z nodelete: a bufferevent_openssl freed in stop() is finalized by libevent
# later (at event_base_free, after the core dlclose()d the plugin); its
# methods live in libevent_openssl, which must still be mapped then.
%canon_reldir%_kubernetes_la_LDFLAGS = $(PLUGIN_LDFLAGS) -Wl,-z,nodelete
%canon_reldir%_kubernetes_la_LIBADD = $(LIBEVENT_OPENSSL_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS) $(YAML_LIBS) \
	$(LIBCRYPTO_LIBS)
EXTRA_DIST += %reldir%/README.md
