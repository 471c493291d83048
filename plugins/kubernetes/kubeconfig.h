/*
 * plugins/kubernetes/kubeconfig.h - the subset of YAML a kubeconfig needs,
 * read with libyaml (kyaml.c), and the kubeconfig fields the kubernetes
 * watcher needs (kubeconfig.c).
 *
 * The subset: block mappings and block sequences, plain, 'single' and
 * "double" quoted one-line scalars, comments, "---" and "...", and the
 * empty flow collections {} and [].  Everything else YAML allows (anchors,
 * aliases, tags, block scalars | >, non-empty flow collections, multi-line
 * scalars, complex keys, directives, more than one document) and tabs in
 * indentation and duplicate keys are refused with an error that names the
 * line.  Input, depth and node count are bounded.
 *
 * No dependency on the plugin host: the unit test compiles both files in.
 */
#ifndef BROKER_KUBERNETES_KUBECONFIG_H
#define BROKER_KUBERNETES_KUBECONFIG_H

#include <stddef.h>

#define KYAML_MAX_INPUT (4u << 20)  /* bytes */
#define KYAML_MAX_DEPTH 32
#define KYAML_MAX_NODES 100000

enum kyaml_type { KYAML_NULL = 0, KYAML_SCALAR, KYAML_MAP, KYAML_SEQ };

struct kyaml_node {
	enum kyaml_type type;
	int line;                    /* 1-based line where the node starts */
	char *scalar;                /* KYAML_SCALAR: the value, unescaped */
	int quoted;                  /* KYAML_SCALAR: written in quotes */
	size_t n;                    /* KYAML_MAP / KYAML_SEQ: number of children */
	size_t cap;
	char **keys;                 /* KYAML_MAP: n keys */
	struct kyaml_node **items;   /* n children */
};

/* Parse one document.  *root is NULL for an empty document. */
int kyaml_parse(const char *text, size_t len, struct kyaml_node **root, char *err, size_t errlen);
void kyaml_free(struct kyaml_node *n);
/* The value of key in a map, or NULL (also when map is not a map). */
const struct kyaml_node *kyaml_get(const struct kyaml_node *map, const char *key);

/* What the watcher needs from a kubeconfig's current context. */
struct kubeconfig {
	char *context;               /* the context used */
	char *server;                /* as written: https://127.0.0.1:6443 */
	int https;                   /* 1: https, 0: http */
	char *host;                  /* without brackets: 127.0.0.1, ::1, k8s.local */
	unsigned port;               /* from the URL, or 443 / 80 */
	char *path_prefix;           /* "" or "/prefix" (no trailing slash) */
	char *tls_server_name;       /* NULL: host */
	int insecure_skip_verify;
	char *ca_pem;                /* CA bundle (PEM) or NULL: system default */
	size_t ca_len;
	char *cert_pem;              /* client certificate (PEM) or NULL */
	size_t cert_len;
	char *key_pem;               /* client key (PEM) or NULL */
	size_t key_len;
	char *token;                 /* bearer token or NULL */
};

/*
 * Parse kubeconfig text.  basedir resolves relative file names
 * (certificate-authority, client-certificate, client-key, tokenFile); those
 * files are read here (bounded).  On error kc is left cleared.
 */
int kubeconfig_parse(const char *text, size_t len, const char *basedir, struct kubeconfig *kc,
                     char *err, size_t errlen);
/* Read path (bounded) and parse it. */
int kubeconfig_load(const char *path, struct kubeconfig *kc, char *err, size_t errlen);
void kubeconfig_clear(struct kubeconfig *kc);

/* Read a whole file of at most max bytes into a NUL-terminated buffer. */
int kube_read_file(const char *path, size_t max, char **out, size_t *outlen);

#endif
