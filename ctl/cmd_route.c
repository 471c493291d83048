/* cmd_route.c - brokerctl route list|add|rm. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/brokerctl.h"

static json_t *route_json(const Broker__Control__Route *r)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "name", r->name,
	                 "owner", r->owner,
	                 "listen", r->listen, "connect", r->connect, "max_connections",
	                 (json_int_t)r->max_connections, "state", r->state, "listen_address", r->listen_address,
	                 "persistent", (int)r->persistent, "conns_total", (json_int_t)r->conns_total,
	                 "conns_active", (json_int_t)r->conns_active, "conns_refused",
	                 (json_int_t)r->conns_refused, "bytes_in", (json_int_t)r->bytes_in, "bytes_out",
	                 (json_int_t)r->bytes_out, "errors", (json_int_t)r->errors);
}

int cmd_route_list(struct session *s)
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
			char conns[48], in[32], out[32], errs[32], name[400];
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
			/* A peer's route held here is OWNER/NAME, the name `route rm` takes for it. */
			snprintf(name, sizeof(name), "%s%s%s", r->owner, r->owner[0] ? "/" : "", r->name);
			table_row(&t, name, listen, r->connect, r->state, conns, in, out, errs);
		}
		table_print(&t);
	}
	broker__control__route_list_reply__free_unpacked(rl, NULL);
	return 0;
}

int cmd_route_add(struct session *s, const char *name)
{
	Broker__Control__RouteAddRequest req = BROKER__CONTROL__ROUTE_ADD_REQUEST__INIT;
	Broker__Control__Route r = BROKER__CONTROL__ROUTE__INIT;
	Broker__Control__RouteAddReply *ar;
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc, code = 0;

	r.name = (char *)name;
	r.listen = (char *)s->o->listen;
	r.connect = (char *)s->o->connect;
	r.max_connections = s->o->max_connections > 0 ? (uint32_t)s->o->max_connections : 0;
	req.route = &r;
	/* A listener on the peer: the broker waits for the peer's answer, and must reply before we give up. */
	req.wait_ms = (uint32_t)(s->o->timeout_ms > 2000 ? s->o->timeout_ms - 1000 : s->o->timeout_ms / 2);
	if ((rc = call(s, "route", "add", &req.base, &rep, &len)))
		return rc;
	UNPACK_OR_FAIL(ar, broker__control__route_add_reply__unpack, rep, len);
	if (s->o->json) {
		json_t *j = ar->route ? route_json(ar->route) : json_pack("{s:s}", "name", name);
		if (j && ar->waiting[0])
			json_object_set_new(j, "waiting", json_string(ar->waiting));
		print_json(j);
	} else if (ar->route) {
		const Broker__Control__Route *a = ar->route;

		char line[4096];

		snprintf(line, sizeof(line), "route %s: %s -> %s (%s)", a->name,
		         a->listen_address[0] ? a->listen_address : a->listen, a->connect, a->state);
		print_line(line);
	} else {
		printf("route %s added\n", name);
	}
	if (ar->waiting[0]) {
		/* Stored, but nothing listens yet: say so, and exit apart from success and failure. */
		fflush(stdout);
		code = die(EXIT_PENDING, "route add %s: stored, but not listening yet: %s (brokerctl route list shows its "
		                         "state)",
		           name, ar->waiting);
	}
	broker__control__route_add_reply__free_unpacked(ar, NULL);
	return code;
}

int cmd_route_rm(struct session *s, const char *name)
{
	Broker__Control__RouteRemoveRequest req = BROKER__CONTROL__ROUTE_REMOVE_REQUEST__INIT;
	char done[300];

	req.name = (char *)name;
	snprintf(done, sizeof(done), "route %s removed", name);
	return cmd_simple(s, "route", "remove", &req.base, done);
}
