/* brokerctl - steer a running brokerd over its control RPC. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/control.pb-c.h"
#include "rpc/ctl_client.h"
#include "rpc/runtime_dir.h"

#define EXIT_USAGE 2
#define DEFAULT_TIMEOUT_MS 10000

struct opts {
	const char *runtime_dir;
	bool json;
	int timeout_ms;
	const char *listen;
	const char *connect;
	long max_connections;      /* -1: not given */
	const char *args[4];       /* positional words: command, subcommand, operand */
	int nargs;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: brokerctl [--runtime-dir DIR] [--json] [--timeout SECONDS] COMMAND\n"
	        "\n"
	        "commands:\n"
	        "  status                         show the broker's state\n"
	        "  route list                     list routes with their counters\n"
	        "  route add NAME --listen URL --connect URL [--max-connections N]\n"
	        "                                 add a route (stored; survives restarts)\n"
	        "  route rm NAME                  remove a route\n"
	        "  plugin list                    list loaded plugins\n"
	        "  plugin help NAME               show a plugin's options\n"
	        "  plugin load PATH               load a plugin file\n"
	        "  plugin unload NAME             unload a plugin\n"
	        "  link status                    show the links to the peer broker\n"
	        "  reload                         re-read the config file and re-apply routes\n"
	        "  shutdown                       stop the broker (live streams drain first)\n"
	        "\n"
	        "options:\n"
	        "  --runtime-dir DIR   where brokerd's ctl.sock is (env BROKER_RUNTIME_DIR)\n"
	        "  --json              print JSON for scripts\n"
	        "  --timeout SECONDS   how long to wait for an answer (default %d)\n"
	        "  -h, --help          show this help\n"
	        "  -V, --version       show the version\n",
	        DEFAULT_TIMEOUT_MS / 1000);
}

/* One line on stderr, the way every failure is reported. */
static int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("brokerctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* --opt VALUE or --opt=VALUE; returns the value or NULL (usage error printed). */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (a[n] == '=')
		return a + n + 1;
	if (*i + 1 >= argc) {
		die(EXIT_USAGE, "%s needs a value (see brokerctl --help)", name);
		return NULL;
	}
	return argv[++*i];
}

static bool is_opt(const char *a, const char *name)
{
	size_t n = strlen(name);

	return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

/* Returns -1 to continue, or an exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	const char *v;
	char *end;

	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->max_connections = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("brokerctl %s\n", PACKAGE_VERSION);
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (is_opt(a, "--runtime-dir")) {
			if (!(v = opt_value(argc, argv, &i, "--runtime-dir")))
				return EXIT_USAGE;
			if (!v[0])
				return die(EXIT_USAGE, "--runtime-dir: empty directory name");
			o->runtime_dir = v;
		} else if (is_opt(a, "--timeout")) {
			double s;

			if (!(v = opt_value(argc, argv, &i, "--timeout")))
				return EXIT_USAGE;
			errno = 0;
			s = strtod(v, &end);
			if (errno || end == v || *end || !(s > 0) || s > 86400)
				return die(EXIT_USAGE, "--timeout: '%s' is not a number of seconds between 0 and 86400", v);
			o->timeout_ms = (int)(s * 1000 + 0.999);  /* round up: never wait less than asked */
		} else if (is_opt(a, "--listen")) {
			if (!(o->listen = opt_value(argc, argv, &i, "--listen")))
				return EXIT_USAGE;
		} else if (is_opt(a, "--connect")) {
			if (!(o->connect = opt_value(argc, argv, &i, "--connect")))
				return EXIT_USAGE;
		} else if (is_opt(a, "--max-connections")) {
			if (!(v = opt_value(argc, argv, &i, "--max-connections")))
				return EXIT_USAGE;
			errno = 0;
			o->max_connections = strtol(v, &end, 10);
			if (errno || end == v || *end || o->max_connections < 0 || o->max_connections > INT_MAX)
				return die(EXIT_USAGE, "--max-connections: '%s' is not a count (0 means unlimited)", v);
		} else if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++) {
				if (o->nargs == (int)(sizeof(o->args) / sizeof(o->args[0])))
					return die(EXIT_USAGE, "too many arguments (see brokerctl --help)");
				o->args[o->nargs++] = argv[i];
			}
		} else if (a[0] == '-' && a[1]) {
			return die(EXIT_USAGE, "unknown option %s (see brokerctl --help)", a);
		} else {
			if (o->nargs == (int)(sizeof(o->args) / sizeof(o->args[0])))
				return die(EXIT_USAGE, "too many arguments (see brokerctl --help)");
			o->args[o->nargs++] = a;
		}
	}
	return -1;
}

/* ------------------------------------------------------------------ output helpers */

static void human_bytes(char *buf, size_t len, uint64_t n)
{
	static const char units[] = "KMGTPE";
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, len, "%llu", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f%ci", v, units[u]);
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

/* A table: rows of cells, printed with each column as wide as its widest cell. */
#define TABLE_MAX_COLS 8
struct table {
	int ncols;
	size_t nrows, cap;
	char **cells;   /* nrows * ncols, malloc'd strings */
};

static void table_row(struct table *t, ...)
{
	va_list ap;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*c));

		if (!c)
			return;
		t->cells = c;
		t->cap = cap;
	}
	va_start(ap, t);
	for (int i = 0; i < t->ncols; i++) {
		const char *v = va_arg(ap, const char *);

		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = strdup(v ? v : "");
	}
	va_end(ap);
	t->nrows++;
}

static void table_print(struct table *t)
{
	size_t w[TABLE_MAX_COLS] = { 0 };

	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
			size_t l = s ? strlen(s) : 0;

			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];

			if (c == t->ncols - 1)
				printf("%s\n", s ? s : "");
			else
				printf("%-*s  ", (int)w[c], s ? s : "");
		}
	}
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* ------------------------------------------------------------------ RPC */

struct session {
	struct opts *o;
	struct ctl_client *c;
	const char *what;     /* "route add docker": prefixes the broker's reason */
};

/* One call; on failure prints the reason and returns the exit code, else 0. */
static int call(struct session *s, const char *service, const char *method, const ProtobufCMessage *req,
                uint8_t **reply, size_t *reply_len)
{
	uint8_t *body = NULL;
	size_t body_len = 0;
	Broker__Rpc__Status st = BROKER__RPC__STATUS__OK;
	char err[1024] = "";
	int rc;

	if (req && rpc_pack_message(req, &body, &body_len) < 0)
		return die(1, "out of memory");
	rc = ctl_client_call(s->c, service, method, body, body_len, &st, reply, reply_len, err, sizeof(err));
	free(body);
	if (rc < 0)
		return die(1, "%s", err);
	if (st != BROKER__RPC__STATUS__OK) {
		free(*reply);
		*reply = NULL;
		if (!err[0])
			snprintf(err, sizeof(err), "failed");
		/* The broker's reason may already name the command; do not say it twice. */
		if (strncmp(err, s->what, strlen(s->what)) == 0)
			return die(1, "%s", err);
		return die(1, "%s: %s", s->what, err);
	}
	return 0;
}

#define UNPACK_OR_FAIL(var, fn, reply, len)                                         \
	do {                                                                           \
		var = fn(NULL, len, reply);                                                \
		free(reply);                                                               \
		if (!var)                                                                  \
			return die(1, "the broker sent a reply this brokerctl cannot read " \
			              "(version mismatch?)");                                 \
	} while (0)

/* ------------------------------------------------------------------ commands */

static void uptime_text(char *buf, size_t len, int64_t s)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd %lldh %lldm", (long long)(s / 86400), (long long)(s % 86400 / 3600),
		         (long long)(s % 3600 / 60));
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %lldm %llds", (long long)(s / 3600), (long long)(s % 3600 / 60),
		         (long long)(s % 60));
	else if (s >= 60)
		snprintf(buf, len, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, len, "%llds", (long long)s);
}

static int cmd_status(struct session *s)
{
	Broker__Control__StatusReply *st;
	uint8_t *rep = NULL;
	size_t len = 0;
	char up[64];
	int rc = call(s, "broker", "status", NULL, &rep, &len);

	if (rc)
		return rc;
	UNPACK_OR_FAIL(st, broker__control__status_reply__unpack, rep, len);
	if (s->o->json) {
		print_json(json_pack("{s:s, s:I, s:I, s:s, s:s, s:s?, s:I, s:I, s:I, s:b, s:I, s:I}",
		                     "version", st->version, "pid", (json_int_t)st->pid, "uptime_s",
		                     (json_int_t)st->uptime_s, "runtime_dir", st->runtime_dir, "state_dir",
		                     st->state_dir, "http_listen", st->http_listen[0] ? st->http_listen : NULL,
		                     "routes", (json_int_t)st->routes, "plugins", (json_int_t)st->plugins,
		                     "conns_active", (json_int_t)st->conns_active, "ready", (int)st->ready,
		                     "rpc_requests", (json_int_t)st->rpc_requests, "rpc_errors",
		                     (json_int_t)st->rpc_errors));
	} else {
		uptime_text(up, sizeof(up), st->uptime_s);
		printf("brokerd %s, pid %lld, up %s, %s\n", st->version, (long long)st->pid, up,
		       st->ready ? "ready" : "starting");
		printf("runtime dir  %s\n", st->runtime_dir);
		printf("state dir    %s\n", st->state_dir);
		printf("http         %s\n", st->http_listen[0] ? st->http_listen : "off");
		printf("routes       %u (%llu active connections)\n", st->routes, (unsigned long long)st->conns_active);
		printf("plugins      %u\n", st->plugins);
		printf("rpc          %llu requests, %llu errors\n", (unsigned long long)st->rpc_requests,
		       (unsigned long long)st->rpc_errors);
	}
	broker__control__status_reply__free_unpacked(st, NULL);
	return 0;
}

static json_t *route_json(const Broker__Control__Route *r)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "name", r->name,
	                 "listen", r->listen, "connect", r->connect, "max_connections",
	                 (json_int_t)r->max_connections, "state", r->state, "listen_address", r->listen_address,
	                 "persistent", (int)r->persistent, "conns_total", (json_int_t)r->conns_total,
	                 "conns_active", (json_int_t)r->conns_active, "conns_refused",
	                 (json_int_t)r->conns_refused, "bytes_in", (json_int_t)r->bytes_in, "bytes_out",
	                 (json_int_t)r->bytes_out, "errors", (json_int_t)r->errors);
}

static int cmd_route_list(struct session *s)
{
	Broker__Control__RouteListReply *rl;
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc = call(s, "route", "list", NULL, &rep, &len);

	if (rc)
		return rc;
	UNPACK_OR_FAIL(rl, broker__control__route_list_reply__unpack, rep, len);
	if (s->o->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < rl->n_routes; i++)
			json_array_append_new(a, route_json(rl->routes[i]));
		print_json(a);
	} else if (rl->n_routes == 0) {
		printf("no routes (add one with: brokerctl route add NAME --listen URL --connect URL)\n");
	} else {
		struct table t = { .ncols = 8 };

		table_row(&t, "NAME", "LISTEN", "CONNECT", "STATE", "CONNS", "BYTES-IN", "BYTES-OUT", "ERRORS");
		for (size_t i = 0; i < rl->n_routes; i++) {
			const Broker__Control__Route *r = rl->routes[i];
			char conns[48], in[32], out[32], errs[32];
			const char *listen = r->listen_address[0] && strcmp(r->listen_address, r->listen) != 0
			                             ? r->listen_address
			                             : r->listen;

			if (r->max_connections)
				snprintf(conns, sizeof(conns), "%llu/%u", (unsigned long long)r->conns_active,
				         r->max_connections);
			else
				snprintf(conns, sizeof(conns), "%llu", (unsigned long long)r->conns_active);
			human_bytes(in, sizeof(in), r->bytes_in);
			human_bytes(out, sizeof(out), r->bytes_out);
			snprintf(errs, sizeof(errs), "%llu", (unsigned long long)r->errors);
			table_row(&t, r->name, listen, r->connect, r->state, conns, in, out, errs);
		}
		table_print(&t);
	}
	broker__control__route_list_reply__free_unpacked(rl, NULL);
	return 0;
}

static int cmd_route_add(struct session *s, const char *name)
{
	Broker__Control__RouteAddRequest req = BROKER__CONTROL__ROUTE_ADD_REQUEST__INIT;
	Broker__Control__Route r = BROKER__CONTROL__ROUTE__INIT;
	Broker__Control__RouteAddReply *ar;
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc;

	r.name = (char *)name;
	r.listen = (char *)s->o->listen;
	r.connect = (char *)s->o->connect;
	r.max_connections = s->o->max_connections > 0 ? (uint32_t)s->o->max_connections : 0;
	req.route = &r;
	if ((rc = call(s, "route", "add", &req.base, &rep, &len)))
		return rc;
	UNPACK_OR_FAIL(ar, broker__control__route_add_reply__unpack, rep, len);
	if (s->o->json) {
		print_json(ar->route ? route_json(ar->route) : json_pack("{s:s}", "name", name));
	} else if (ar->route) {
		const Broker__Control__Route *a = ar->route;

		printf("route %s: %s -> %s (%s)\n", a->name,
		       a->listen_address[0] ? a->listen_address : a->listen, a->connect, a->state);
	} else {
		printf("route %s added\n", name);
	}
	broker__control__route_add_reply__free_unpacked(ar, NULL);
	return 0;
}

static int cmd_simple(struct session *s, const char *service, const char *method,
                      const ProtobufCMessage *req, const char *done)
{
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc = call(s, service, method, req, &rep, &len);

	free(rep);
	if (rc)
		return rc;
	if (s->o->json)
		print_json(json_pack("{s:b}", "ok", 1));
	else
		printf("%s\n", done);
	return 0;
}

static json_t *plugin_json(const Broker__Control__Plugin *p, bool with_options)
{
	json_t *kinds = json_array(), *schemes = json_array();
	json_t *j;

	for (size_t i = 0; i < p->n_kinds; i++)
		json_array_append_new(kinds, json_string(p->kinds[i]));
	for (size_t i = 0; i < p->n_schemes; i++)
		json_array_append_new(schemes, json_string(p->schemes[i]));
	j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "name", p->name, "version", p->version,
	              "description", p->description, "path", p->path, "kinds", kinds, "schemes", schemes,
	              "state", p->state);
	if (j && with_options) {
		json_t *opts = json_array();

		for (size_t i = 0; i < p->n_options; i++) {
			const Broker__Control__PluginOption *o = p->options[i];

			json_array_append_new(opts, json_pack("{s:s, s:s, s:s?, s:s, s:s?}", "name", o->name, "type",
			                                      o->type, "default",
			                                      o->default_value[0] ? o->default_value : NULL, "help",
			                                      o->help, "value", o->value[0] ? o->value : NULL));
		}
		json_object_set_new(j, "options", opts);
	}
	return j;
}

static void join(char *buf, size_t len, char **v, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", v[i]);
	if (!n)
		snprintf(buf, len, "-");
}

static int cmd_plugin_list(struct session *s)
{
	Broker__Control__PluginListReply *pl;
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc = call(s, "plugin", "list", NULL, &rep, &len);

	if (rc)
		return rc;
	UNPACK_OR_FAIL(pl, broker__control__plugin_list_reply__unpack, rep, len);
	if (s->o->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < pl->n_plugins; i++)
			json_array_append_new(a, plugin_json(pl->plugins[i], false));
		print_json(a);
	} else if (pl->n_plugins == 0) {
		printf("no plugins loaded\n");
	} else {
		struct table t = { .ncols = 6 };

		table_row(&t, "NAME", "VERSION", "KINDS", "SCHEMES", "STATE", "PATH");
		for (size_t i = 0; i < pl->n_plugins; i++) {
			const Broker__Control__Plugin *p = pl->plugins[i];
			char kinds[128], schemes[256];

			join(kinds, sizeof(kinds), p->kinds, p->n_kinds);
			join(schemes, sizeof(schemes), p->schemes, p->n_schemes);
			table_row(&t, p->name, p->version, kinds, schemes, p->state, p->path);
		}
		table_print(&t);
	}
	broker__control__plugin_list_reply__free_unpacked(pl, NULL);
	return 0;
}

static void print_plugin(const Broker__Control__Plugin *p, bool with_options)
{
	char kinds[128], schemes[256];

	join(kinds, sizeof(kinds), p->kinds, p->n_kinds);
	join(schemes, sizeof(schemes), p->schemes, p->n_schemes);
	printf("%s %s - %s\n", p->name, p->version, p->description[0] ? p->description : "(no description)");
	printf("  path     %s\n  kinds    %s\n  schemes  %s\n  state    %s\n", p->path, kinds, schemes, p->state);
	if (!with_options)
		return;
	if (p->n_options == 0) {
		printf("\nno options\n");
		return;
	}
	printf("\noptions:\n");
	for (size_t i = 0; i < p->n_options; i++) {
		const Broker__Control__PluginOption *o = p->options[i];

		printf("  %s (%s)", o->name, o->type);
		if (o->default_value[0])
			printf(", default %s", o->default_value);
		if (o->value[0])
			printf(", now %s", o->value);
		printf("\n");
		if (o->help[0])
			printf("      %s\n", o->help);
	}
}

static int cmd_plugin_one(struct session *s, const char *method, const ProtobufCMessage *req, const char *verb)
{
	Broker__Control__PluginReply *pr;
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc = call(s, "plugin", method, req, &rep, &len);

	if (rc)
		return rc;
	UNPACK_OR_FAIL(pr, broker__control__plugin_reply__unpack, rep, len);
	if (s->o->json) {
		print_json(pr->plugin ? plugin_json(pr->plugin, true) : json_object());
	} else if (pr->plugin) {
		if (verb)
			printf("%s %s %s from %s\n", verb, pr->plugin->name, pr->plugin->version, pr->plugin->path);
		else
			print_plugin(pr->plugin, true);
	}
	broker__control__plugin_reply__free_unpacked(pr, NULL);
	return 0;
}

static json_t *link_json(const Broker__Control__LinkInfo *l)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
	                 "carrier", l->carrier, "role", l->role, "state", l->state, "peer_id", l->peer_id,
	                 "peer_host", l->peer_host, "peer_software", l->peer_software, "authenticated",
	                 (int)l->authenticated, "default", (int)l->is_default, "uptime_s", (json_int_t)l->uptime_s,
	                 "rtt_us", (json_int_t)l->rtt_us, "bytes_sent", (json_int_t)l->bytes_sent,
	                 "bytes_received", (json_int_t)l->bytes_received, "streams_open",
	                 (json_int_t)l->streams_open, "streams_total", (json_int_t)l->streams_total, "reconnects",
	                 (json_int_t)l->reconnects, "protocol_errors", (json_int_t)l->protocol_errors,
	                 "last_error", l->last_error);
}

static int cmd_link_status(struct session *s)
{
	Broker__Control__LinkStatusReply *lr;
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc = call(s, "link", "status", NULL, &rep, &len);

	if (rc)
		return rc;
	UNPACK_OR_FAIL(lr, broker__control__link_status_reply__unpack, rep, len);
	if (s->o->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < lr->n_links; i++)
			json_array_append_new(a, link_json(lr->links[i]));
		print_json(a);
	} else if (lr->n_links == 0) {
		printf("no links (start brokerd with --link-listen, --link-connect or --link-stdio)\n");
	} else {
		struct table t = { .ncols = 8 };

		table_row(&t, "CARRIER", "ROLE", "STATE", "PEER", "UPTIME", "RTT", "SENT/RECEIVED", "STREAMS");
		for (size_t i = 0; i < lr->n_links; i++) {
			const Broker__Control__LinkInfo *l = lr->links[i];
			char up[64] = "-", rtt[32] = "-", io[80], sent[32], recv[32], streams[64], state[400], peer[300];

			if (l->uptime_s > 0 || !strcmp(l->state, "up"))
				uptime_text(up, sizeof(up), l->uptime_s);
			if (l->rtt_us >= 0)
				snprintf(rtt, sizeof(rtt), "%.2f ms", (double)l->rtt_us / 1000.0);
			human_bytes(sent, sizeof(sent), l->bytes_sent);
			human_bytes(recv, sizeof(recv), l->bytes_received);
			snprintf(io, sizeof(io), "%s/%s", sent, recv);
			snprintf(streams, sizeof(streams), "%llu open, %llu total", (unsigned long long)l->streams_open,
			         (unsigned long long)l->streams_total);
			snprintf(state, sizeof(state), "%s%s%s%s", l->state, l->is_default ? " (default)" : "",
			         l->last_error[0] && strcmp(l->state, "up") ? ": " : "",
			         l->last_error[0] && strcmp(l->state, "up") ? l->last_error : "");
			snprintf(peer, sizeof(peer), "%s%s", l->peer_id[0] ? l->peer_id : "-",
			         l->authenticated ? " (authenticated)" : "");
			table_row(&t, l->carrier, l->role, state, peer, up, rtt, io, streams);
		}
		table_print(&t);
	}
	broker__control__link_status_reply__free_unpacked(lr, NULL);
	return 0;
}

/* ------------------------------------------------------------------ main */

/* Usage checks: only what the broker cannot know better (URLs are its business). */
static int check_usage(const struct opts *o, const char *cmd, int want_args)
{
	bool route_add = strcmp(cmd, "route add") == 0;

	if (o->nargs != want_args) {
		if (o->nargs < want_args)
			return die(EXIT_USAGE, "%s: missing %s (see brokerctl --help)", cmd,
			           strncmp(cmd, "plugin load", 11) == 0 ? "PATH" : "NAME");
		return die(EXIT_USAGE, "%s: unexpected argument '%s' (see brokerctl --help)", cmd, o->args[want_args]);
	}
	if (!route_add && (o->listen || o->connect || o->max_connections >= 0))
		return die(EXIT_USAGE, "%s: --listen, --connect and --max-connections only go with route add", cmd);
	if (route_add && (!o->listen || !o->connect))
		return die(EXIT_USAGE, "route add: needs --listen URL and --connect URL");
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct session s = { .o = &o };
	char what[256], err[1024];
	char *dir = NULL, *url = NULL;
	const char *cmd, *sub;
	int rc, want;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (o.nargs == 0)
		return die(EXIT_USAGE, "missing command (see brokerctl --help)");

	/* Work out the command and how many words it takes before connecting. */
	cmd = o.args[0];
	sub = o.nargs > 1 ? o.args[1] : NULL;
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "reload") == 0 || strcmp(cmd, "shutdown") == 0) {
		snprintf(what, sizeof(what), "%s", cmd);
		want = 1;
	} else if (strcmp(cmd, "link") == 0) {
		if (!sub || strcmp(sub, "status") != 0)
			return die(EXIT_USAGE, "link: %s (use: link status)", sub ? "unknown subcommand" : "missing subcommand");
		snprintf(what, sizeof(what), "link status");
		want = 2;
	} else if (strcmp(cmd, "route") == 0 || strcmp(cmd, "plugin") == 0) {
		static const char *const route_subs[] = { "list", "add", "rm", NULL };
		static const char *const plugin_subs[] = { "list", "help", "load", "unload", NULL };
		const char *const *subs = cmd[0] == 'r' ? route_subs : plugin_subs;
		bool found = false;

		if (!sub)
			return die(EXIT_USAGE, "%s: missing subcommand (%s)", cmd,
			           cmd[0] == 'r' ? "list, add, rm" : "list, help, load, unload");
		if (cmd[0] == 'r' && strcmp(sub, "remove") == 0)
			sub = "rm";
		for (int i = 0; subs[i]; i++)
			found = found || strcmp(subs[i], sub) == 0;
		if (!found)
			return die(EXIT_USAGE, "%s: unknown subcommand '%s' (use %s)", cmd, sub,
			           cmd[0] == 'r' ? "list, add, rm" : "list, help, load, unload");
		snprintf(what, sizeof(what), "%s %s", cmd, sub);
		want = strcmp(sub, "list") == 0 ? 2 : 3;
	} else {
		return die(EXIT_USAGE, "unknown command '%s' (see brokerctl --help)", cmd);
	}
	rc = check_usage(&o, what, want);
	if (rc >= 0)
		return rc;
	if (want == 3 && !o.args[2][0])
		return die(EXIT_USAGE, "%s: empty %s", what, strcmp(what, "plugin load") == 0 ? "PATH" : "NAME");
	if (want == 3 && strcmp(what, "plugin load") != 0) {
		/* Say which thing failed: "route add docker: name taken". */
		size_t l = strlen(what);

		snprintf(what + l, sizeof(what) - l, " %s", o.args[2]);
	}
	s.what = what;

	if (o.runtime_dir)
		dir = strdup(o.runtime_dir);
	else if (getenv("BROKER_RUNTIME_DIR") && getenv("BROKER_RUNTIME_DIR")[0])
		dir = strdup(getenv("BROKER_RUNTIME_DIR"));
	else
		dir = runtime_dir_default();
	url = dir ? runtime_dir_ctl_url(dir) : NULL;
	if (!url) {
		free(dir);
		return die(1, "out of memory");
	}
	rc = ctl_client_open(url, o.timeout_ms, &s.c, err, sizeof(err));
	free(url);
	free(dir);
	if (rc < 0)
		return die(1, "%s", err);

	if (strcmp(cmd, "status") == 0) {
		rc = cmd_status(&s);
	} else if (strcmp(cmd, "link") == 0) {
		rc = cmd_link_status(&s);
	} else if (strcmp(cmd, "reload") == 0) {
		rc = cmd_simple(&s, "broker", "reload", NULL, "reloaded");
	} else if (strcmp(cmd, "shutdown") == 0) {
		rc = cmd_simple(&s, "broker", "shutdown", NULL, "brokerd is shutting down");
	} else if (cmd[0] == 'r') {
		if (strcmp(sub, "list") == 0) {
			rc = cmd_route_list(&s);
		} else if (strcmp(sub, "add") == 0) {
			rc = cmd_route_add(&s, o.args[2]);
		} else {
			Broker__Control__RouteRemoveRequest req = BROKER__CONTROL__ROUTE_REMOVE_REQUEST__INIT;
			char done[300];

			req.name = (char *)o.args[2];
			snprintf(done, sizeof(done), "route %s removed", o.args[2]);
			rc = cmd_simple(&s, "route", "remove", &req.base, done);
		}
	} else {
		if (strcmp(sub, "list") == 0) {
			rc = cmd_plugin_list(&s);
		} else if (strcmp(sub, "load") == 0) {
			Broker__Control__PluginLoadRequest req = BROKER__CONTROL__PLUGIN_LOAD_REQUEST__INIT;

			req.path = (char *)o.args[2];
			rc = cmd_plugin_one(&s, "load", &req.base, "loaded");
		} else {
			Broker__Control__PluginNameRequest req = BROKER__CONTROL__PLUGIN_NAME_REQUEST__INIT;

			req.name = (char *)o.args[2];
			if (strcmp(sub, "help") == 0) {
				rc = cmd_plugin_one(&s, "help", &req.base, NULL);
			} else {
				char done[300];

				snprintf(done, sizeof(done), "plugin %s unloaded", o.args[2]);
				rc = cmd_simple(&s, "plugin", "unload", &req.base, done);
			}
		}
	}
	ctl_client_close(s.c);
	return rc;
}
