/*
 * cmd_setup.c - brokerctl setup docker: one command that makes the docker CLI here reach the dockerd on
 * the peer.  It adds a stored route from a local endpoint (a unix socket in the runtime dir; Windows: the
 * CLI's default pipe) to peer:unix:///var/run/docker.sock, gives the CLI a context named "broker" for it
 * (with the CLI's own `docker context create`), asks the peer's dockerd for its version through the route,
 * and says what the peer broker must allow.  --remove undoes the route and the context.
 *
 * The context: setup creates it with a description of its own (CONTEXT_MARK) and only ever updates or
 * removes a context carrying that description; a context of that name made by someone else is reported
 * and left alone.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/brokerctl.h"
#include "rpc/ctl_client.h"

#define CONTEXT_MARK "brokerctl setup docker: the peer's dockerd through the broker"
#define DEFAULT_PEER_SOCKET "/var/run/docker.sock"
#define RUN_TIMEOUT_MS 30000
#define REPLY_CAP 65536

struct setup {
	struct session *s;
	const char *name;         /* the route's name (default "docker") */
	char context[80];         /* "broker", or "broker-NAME" */
	char listen[300];         /* the local endpoint */
	char connect[300];        /* peer:unix://SOCKET */
	char peer_url[300];       /* unix://SOCKET, as the peer's --peer-allow-connect names it */
	bool needs_context;
};

/* ------------------------------------------------------------------ the route */

/* The route called name in the broker's list: 1 (listen/connect copied), 0 absent, or an exit code < 0. */
static int route_lookup(struct setup *st, char *listen, char *connect, size_t len)
{
	Broker__Control__RouteListReply *rl;
	uint8_t *rep = NULL;
	size_t n = 0;
	int found = 0, rc = call(st->s, "route", "list", NULL, &rep, &n);

	if (rc)
		return -rc;
	rl = broker__control__route_list_reply__unpack(NULL, n, rep);
	free(rep);
	if (!rl)
		return -die(1, "the broker sent a reply this brokerctl cannot read (version mismatch?)");
	for (size_t i = 0; i < rl->n_routes && !found; i++) {
		const Broker__Control__Route *r = rl->routes[i];

		if (!r->owner[0] && strcmp(r->name, st->name) == 0) {
			snprintf(listen, len, "%s", r->listen);
			snprintf(connect, len, "%s", r->connect);
			found = 1;
		}
	}
	broker__control__route_list_reply__free_unpacked(rl, NULL);
	return found;
}

static int route_add(struct setup *st)
{
	Broker__Control__RouteAddRequest req = BROKER__CONTROL__ROUTE_ADD_REQUEST__INIT;
	Broker__Control__Route r = BROKER__CONTROL__ROUTE__INIT;
	Broker__Rpc__Status status = BROKER__RPC__STATUS__OK;
	uint8_t *body = NULL, *rep = NULL;
	size_t body_len = 0, rep_len = 0;
	char err[1024] = "";
	int rc;

	r.name = (char *)st->name;
	r.listen = st->listen;
	r.connect = st->connect;
	req.route = &r;
	if (rpc_pack_message(&req.base, &body, &body_len) < 0)
		return die(1, "out of memory");
	rc = ctl_client_call(st->s->c, "route", "add", body, body_len, &status, &rep, &rep_len, err, sizeof(err));
	free(body);
	free(rep);
	if (rc < 0)
		return die(1, "%s", err);
	if (status == BROKER__RPC__STATUS__OK)
		return 0;
	/* Windows: Docker Desktop (or another engine) serves docker_engine already. */
	if (strstr(err, "pipe exists"))
		return die(1, "setup docker: %s: another program (Docker Desktop?) already serves %s; quit it, or give "
		              "--name NAME for a pipe of this broker's own",
		           err, st->listen);
	return die(1, "setup docker: route add %s: %s", st->name, err[0] ? err : "failed");
}

/* ------------------------------------------------------------------ the docker context */

/*
 * The context's host and description: 1 exists, 0 not, -1 the CLI failed (message printed), -2 this
 * brokerctl does not run programs (Windows, where only a second --name needs a context).
 */
static int context_lookup(const struct setup *st, char *host, char *desc, size_t len)
{
	static char out[65536];
	char *argv[] = { "docker", "context", "inspect", (char *)st->context, NULL };
	int rc = ctl_run(argv, out, sizeof(out), RUN_TIMEOUT_MS);
	const char *start = strchr(out, '[');
	json_t *j, *c;

	if (rc == -ENOSYS)
		return -2;
	if (rc < 0) {
		fprintf(stderr, "brokerctl: setup docker: docker context inspect %s: %s\n", st->context, strerror(-rc));
		return -1;
	}
	if (rc != 0)
		return 0;   /* no such context (the CLI says so on stderr) */
	/* Its JSON, not a --format template: the field names of the templates changed between CLI versions. */
	j = start ? json_loads(start, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	c = json_array_get(j, 0);
	snprintf(host, len, "%s", json_string_value(json_object_get(json_object_get(json_object_get(c, "Endpoints"),
	                                                                        "docker"),
	                                                        "Host")) ?: "");
	snprintf(desc, len, "%s", json_string_value(json_object_get(json_object_get(c, "Metadata"), "Description")) ?: "");
	json_decref(j);
	if (!c) {
		fprintf(stderr, "brokerctl: setup docker: docker context inspect %s printed no context this brokerctl can "
		                "read\n", st->context);
		return -1;
	}
	return 1;
}

/* Run one docker context command; 0, or 1 with the CLI's words printed. */
static int context_cmd(const char *what, char **argv)
{
	char out[4096];
	int rc = ctl_run(argv, out, sizeof(out), RUN_TIMEOUT_MS);

	if (rc == 0)
		return 0;
	out[strcspn(out, "\n")] = '\0';
	fprintf(stderr, "brokerctl: setup docker: %s failed: %s\n", what, rc < 0 ? strerror(-rc) : out);
	return 1;
}

/* Create (or fix, when ours) the context; 0, or 1 when it could not (said why). */
static int context_setup(const struct setup *st)
{
	char host[4096], desc[4096], hostarg[320];
	char *create[] = { "docker", "context", "create", (char *)st->context, "--description", CONTEXT_MARK,
		           "--docker", hostarg, NULL };
	char *update[] = { "docker", "context", "update", (char *)st->context, "--docker", hostarg, NULL };
	int found;

	if (!st->needs_context)
		return 0;
	if (!ctl_program_on_path("docker")) {
		printf("no docker CLI on PATH: once it is installed, run\n    docker context create %s --docker host=%s\n",
		       st->context, st->listen);
		return 0;
	}
	snprintf(hostarg, sizeof(hostarg), "host=%s", st->listen);
	if ((found = context_lookup(st, host, desc, sizeof(host))) == -2) {
		printf("to reach it with the docker CLI, run\n    docker context create %s --docker host=%s\n", st->context,
		       st->listen);
		return 0;
	}
	if (found < 0)
		return 1;
	if (found && strcmp(host, st->listen) == 0) {
		printf("docker context %s: already there (host %s)\n", st->context, host);
	} else if (found && strcmp(desc, CONTEXT_MARK) == 0) {
		if (context_cmd("docker context update", update))
			return 1;
		printf("docker context %s: updated (host %s; it was %s)\n", st->context, st->listen, host);
	} else if (found) {
		fprintf(stderr,
		        "brokerctl: setup docker: docker context %s exists and points at %s, and brokerctl did not "
		        "create it: left as it is (remove it with docker context rm %s and run setup again, or use "
		        "docker -H %s)\n",
		        st->context, host[0] ? host : "(no host)", st->context, st->listen);
		return 1;
	} else {
		if (context_cmd("docker context create", create))
			return 1;
		printf("docker context %s: created (host %s)\n", st->context, st->listen);
	}
	return 0;
}

/* Remove the context when it is ours; 0, or 1 when it could not. */
static int context_remove(const struct setup *st)
{
	char host[4096], desc[4096], cur[256];
	char *show[] = { "docker", "context", "show", NULL };
	char *use_default[] = { "docker", "context", "use", "default", NULL };
	char *rm[] = { "docker", "context", "rm", (char *)st->context, NULL };
	int found;

	if (!st->needs_context || !ctl_program_on_path("docker"))
		return 0;
	if ((found = context_lookup(st, host, desc, sizeof(host))) == -2) {
		printf("if you made the docker context %s, remove it with: docker context rm %s\n", st->context, st->context);
		return 0;
	}
	if (found <= 0)
		return found < 0;
	if (strcmp(desc, CONTEXT_MARK) != 0) {
		printf("docker context %s: not created by brokerctl setup docker (host %s): left as it is\n", st->context,
		       host);
		return 0;
	}
	/* The CLI will not remove the context in use: go back to the default first. */
	if (ctl_run(show, cur, sizeof(cur), RUN_TIMEOUT_MS) == 0 && strncmp(cur, st->context, strlen(st->context)) == 0 &&
	    (cur[strlen(st->context)] == '\n' || !cur[strlen(st->context)])) {
		if (context_cmd("docker context use default", use_default))
			return 1;
		printf("docker context: back to default\n");
	}
	if (context_cmd("docker context rm", rm))
		return 1;
	printf("docker context %s removed\n", st->context);
	return 0;
}

/* ------------------------------------------------------------------ the first stream */

/* Links: is one up, and how many of our OPENs the peer refused so far.  -1 when the broker did not say. */
static int link_state(struct setup *st, bool *up, uint64_t *refused)
{
	Broker__Control__LinkStatusReply *lr;
	uint8_t *rep = NULL;
	size_t len = 0;

	*up = false;
	*refused = 0;
	if (call_quiet(st->s, "link", "status", &rep, &len) < 0)
		return -1;
	lr = broker__control__link_status_reply__unpack(NULL, len, rep);
	free(rep);
	if (!lr)
		return -1;
	for (size_t i = 0; i < lr->n_links; i++) {
		*up = *up || strcmp(lr->links[i]->state, "up") == 0;
		*refused += lr->links[i]->refused_by_peer;
	}
	broker__control__link_status_reply__free_unpacked(lr, NULL);
	return 0;
}

/* "Docker Engine 24.0.7 (API 1.43, linux/amd64)" from a /version reply, or NULL when it is not one. */
static bool version_text(const char *reply, size_t len, char *buf, size_t buflen)
{
	const char *body = NULL;
	json_t *j, *v, *api, *os, *arch;
	bool ok = false;

	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(reply + i, "\r\n\r\n", 4) == 0) {
			body = reply + i + 4;
			break;
		}
	if (len < 12 || strncmp(reply, "HTTP/1.", 7) != 0 || strncmp(reply + 8, " 200", 4) != 0 || !body)
		return false;
	if (!(j = json_loadb(body, len - (size_t)(body - reply), 0, NULL)))
		return false;
	v = json_object_get(j, "Version");
	api = json_object_get(j, "ApiVersion");
	os = json_object_get(j, "Os");
	arch = json_object_get(j, "Arch");
	if (json_is_string(v)) {
		snprintf(buf, buflen, "Docker Engine %s (API %s, %s/%s)", json_string_value(v),
		         json_is_string(api) ? json_string_value(api) : "?", json_is_string(os) ? json_string_value(os) : "?",
		         json_is_string(arch) ? json_string_value(arch) : "?");
		ok = true;
	}
	json_decref(j);
	return ok;
}

/* Ask the peer's dockerd for its version through the route: 0 it answered, else the exit code (said why). */
static int probe(struct setup *st)
{
	static const char request[] = "GET /version HTTP/1.0\r\nHost: docker\r\n\r\n";
	char *reply = malloc(REPLY_CAP), err[1024] = "", text[512], first[80];
	uint64_t refused_before, refused_after;
	bool up;
	size_t got = 0;
	int rc;

	if (!reply)
		return die(1, "out of memory");
	if (link_state(st, &up, &refused_before) == 0 && !up) {
		free(reply);
		return die(EXIT_PENDING, "setup docker: no link to the peer is up yet: the route is stored and reaches the "
		                         "peer's dockerd once it is (brokerctl link status)");
	}
	rc = ctl_endpoint_exchange(st->listen, request, reply, REPLY_CAP, &got, st->s->o->timeout_ms, err,
	                           sizeof(err));
	if (rc < 0) {
		free(reply);
		return die(1, "setup docker: asking the peer's dockerd through %s: %s", st->listen, err);
	}
	if (got > 0) {
		rc = version_text(reply, got, text, sizeof(text));
		snprintf(first, sizeof(first), "%.*s", (int)strcspn(reply, "\r\n") < 60 ? (int)strcspn(reply, "\r\n") : 60,
		         reply);
		free(reply);
		if (!rc)
			return die(1, "setup docker: something answers at %s on the peer, but not as dockerd does (\"%s\")",
			           st->peer_url, first);
		printf("the peer's dockerd answers: ");
		print_line(text);
		return 0;
	}
	free(reply);
	/* Closed with no answer: the peer refused the stream, or could not connect to the socket. */
	if (link_state(st, &up, &refused_after) == 0 && refused_after > refused_before)
		return die(1, "setup docker: the peer broker refused the stream to %s: start it with "
		              "--peer-allow-connect %s (brokerd(8) SECURITY); the route stays, and works once it does",
		           st->peer_url, st->peer_url);
	return die(1, "setup docker: the peer could not connect to %s (is dockerd running there, and is that its "
	              "socket? --socket PATH names another; the peer broker's log says why); the route stays",
	           st->peer_url);
}

/* ------------------------------------------------------------------ the command */

static int setup_init(struct setup *st, struct session *s)
{
	const struct opts *o = s->o;
	const char *sock = o->socket ? o->socket : DEFAULT_PEER_SOCKET;
	char *dir;
	int rc;

	st->s = s;
	st->name = o->name ? o->name : "docker";
	if (!st->name[0] || strlen(st->name) > 40 || strspn(st->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                                          "0123456789_-") != strlen(st->name) ||
	    st->name[0] == '-')
		return die(EXIT_USAGE, "setup docker: --name '%s' is not a name (letters, digits, _ and -; at most 40)",
		           st->name);
	if (sock[0] != '/' || strpbrk(sock, ",=?#") || strlen(sock) > 200)
		return die(EXIT_USAGE, "setup docker: --socket '%s' is not an absolute path of a socket on the peer", sock);
	if (strcmp(st->name, "docker") == 0)
		snprintf(st->context, sizeof(st->context), "broker");
	else
		snprintf(st->context, sizeof(st->context), "broker-%s", st->name);
	snprintf(st->peer_url, sizeof(st->peer_url), "unix://%s", sock);
	snprintf(st->connect, sizeof(st->connect), "peer:unix://%s", sock);
	if (!(dir = session_runtime_dir(o)))
		return die(1, "out of memory");
	rc = ctl_docker_endpoint(dir, st->name, st->listen, sizeof(st->listen), &st->needs_context);
	if (rc == 0 && st->needs_context && strpbrk(st->listen, ",="))
		rc = -EINVAL;   /* docker context create --docker host=... would split it */
	if (rc < 0)
		rc = die(1, "setup docker: the socket %s/%s.sock %s: use another --runtime-dir", dir, st->name,
		         rc == -EINVAL ? "has a ',' or '=' in its path, which docker context create cannot take"
		                       : "would be too long a unix socket path");
	else
		rc = -1;   /* go on */
	free(dir);
	return rc;
}

static void say_peer_needs(const struct setup *st)
{
	printf("the peer broker must allow the stream: a broker opens nothing for its peer unless a pattern allows\n"
	       "it (the trust boundary, brokerd(8) SECURITY), so start the peer's brokerd with\n"
	       "    --peer-allow-connect %s\n"
	       "(a brokerd --link-stdio that this broker started trusts it and needs no flag)\n",
	       st->peer_url);
}

static int setup_docker_remove(struct setup *st)
{
	char listen[1024], connect[1024];
	Broker__Control__RouteRemoveRequest req = BROKER__CONTROL__ROUTE_REMOVE_REQUEST__INIT;
	uint8_t *rep = NULL;
	size_t len = 0;
	int found = route_lookup(st, listen, connect, sizeof(listen)), rc;

	if (found < 0)
		return -found;
	/* Without --socket, whichever peer socket setup was given. */
	if (found && (strcmp(listen, st->listen) != 0 || strncmp(connect, "peer:unix:///", 13) != 0 ||
	              (st->s->o->socket && strcmp(connect, st->connect) != 0)))
		return die(1, "setup docker --remove: route %s is %s -> %s, not one setup docker made: left as it is "
		              "(brokerctl route rm %s removes it)",
		           st->name, listen, connect, st->name);
	if (found) {
		req.name = (char *)st->name;
		if ((rc = call(st->s, "route", "remove", &req.base, &rep, &len)))
			return rc;
		free(rep);
		printf("route %s removed\n", st->name);
	} else {
		printf("route %s: not there\n", st->name);
	}
	return context_remove(st);
}

int cmd_setup_docker(struct session *s)
{
	struct setup st = { 0 };
	char listen[1024], connect[1024];
	int rc, found, ctx_rc;

	if ((rc = setup_init(&st, s)) >= 0)
		return rc;
	if (s->o->remove)
		return setup_docker_remove(&st);
	if ((found = route_lookup(&st, listen, connect, sizeof(listen))) < 0)
		return -found;
	if (found && (strcmp(listen, st.listen) != 0 || strcmp(connect, st.connect) != 0))
		return die(1, "setup docker: route %s exists as %s -> %s: remove it first (brokerctl setup docker --remove"
		              "%s%s, or route rm %s) or give --name NAME",
		           st.name, listen, connect, s->o->name ? " --name " : "", s->o->name ? s->o->name : "", st.name);
	if (found) {
		printf("route %s: already there (%s -> %s)\n", st.name, st.listen, st.connect);
	} else {
		if ((rc = route_add(&st)))
			return rc;
		printf("route %s: %s -> %s (stored: it comes back with the broker)\n", st.name, st.listen, st.connect);
	}
	ctx_rc = context_setup(&st);
	say_peer_needs(&st);
	fflush(stdout);
	if ((rc = probe(&st)))
		return rc;
	if (!st.needs_context)
		printf("the docker CLI uses %s by default: docker version\n", st.listen);
	else if (!ctx_rc && ctl_program_on_path("docker"))
		printf("to make it the docker CLI's default:\n    docker context use %s\n(or, per command: docker "
		       "--context %s ...)\n",
		       st.context, st.context);
	return ctx_rc;
}
