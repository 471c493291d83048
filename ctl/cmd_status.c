/* cmd_status.c - brokerctl status and link status. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/brokerctl.h"

int cmd_status(struct session *s)
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
		json_t *dirs = json_array();

		for (size_t i = 0; dirs && i < st->n_plugin_dirs; i++)
			json_array_append_new(dirs, json_string(st->plugin_dirs[i]));
		print_json(json_pack("{s:s, s:I, s:I, s:s, s:s, s:s?, s:o?, s:s?, s:I, s:I, s:I, s:b, s:I, s:I}",
		                     "version", st->version, "pid", (json_int_t)st->pid, "uptime_s",
		                     (json_int_t)st->uptime_s, "runtime_dir", st->runtime_dir, "state_dir",
		                     st->state_dir, "config_file", st->config_file[0] ? st->config_file : NULL,
		                     "plugin_dirs", dirs, "http_listen", st->http_listen[0] ? st->http_listen : NULL,
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
		printf("config       %s\n", st->config_file[0] ? st->config_file : "none (no file read)");
		for (size_t i = 0; i < st->n_plugin_dirs; i++)
			printf("%-13s%s\n", i ? "" : "plugin dirs", st->plugin_dirs[i]);
		printf("http         %s\n", st->http_listen[0] ? st->http_listen : "off");
		printf("routes       %u (%llu active connections)\n", st->routes, (unsigned long long)st->conns_active);
		printf("plugins      %u\n", st->plugins);
		printf("rpc          %llu requests, %llu errors\n", (unsigned long long)st->rpc_requests,
		       (unsigned long long)st->rpc_errors);
	}
	broker__control__status_reply__free_unpacked(st, NULL);
	return 0;
}

static json_t *link_json(const Broker__Control__LinkInfo *l)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	                 "s:I, s:I, s:s}",
	                 "carrier", l->carrier, "role", l->role, "state", l->state, "peer_id", l->peer_id,
	                 "peer_host", l->peer_host, "peer_software", l->peer_software, "authenticated",
	                 (int)l->authenticated, "encrypted", (int)l->encrypted, "default", (int)l->is_default, "uptime_s", (json_int_t)l->uptime_s,
	                 "rtt_us", (json_int_t)l->rtt_us, "bytes_sent", (json_int_t)l->bytes_sent,
	                 "bytes_received", (json_int_t)l->bytes_received, "streams_open",
	                 (json_int_t)l->streams_open, "streams_total", (json_int_t)l->streams_total, "reconnects",
	                 (json_int_t)l->reconnects, "protocol_errors", (json_int_t)l->protocol_errors,
	                 "opens_refused", (json_int_t)l->opens_refused, "listens_refused",
	                 (json_int_t)l->listens_refused, "refused_by_peer", (json_int_t)l->refused_by_peer,
	                 "last_error", l->last_error);
}

int cmd_link_status(struct session *s)
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
			         l->authenticated && l->encrypted ? " (authenticated, encrypted)"
			         : l->authenticated               ? " (authenticated)"
			         : l->encrypted                   ? " (encrypted)"
			                                          : "");
			table_row(&t, l->carrier, l->role, state, peer, up, rtt, io, streams);
		}
		table_print(&t);
	}
	broker__control__link_status_reply__free_unpacked(lr, NULL);
	return 0;
}

/* reload: "reloaded", then one line per changed setting that waits for a restart. */
int cmd_reload(struct session *s)
{
	Broker__Control__ReloadReply *rr;
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc = call(s, "broker", "reload", NULL, &rep, &len);

	if (rc)
		return rc;
	UNPACK_OR_FAIL(rr, broker__control__reload_reply__unpack, rep, len);
	if (s->o->json) {
		json_t *lines = json_array();
		for (size_t i = 0; i < rr->n_needs_restart; i++)
			json_array_append_new(lines, json_string(rr->needs_restart[i]));
		print_json(json_pack("{s:b, s:o}", "ok", 1, "needs_restart", lines));
	} else {
		printf("reloaded\n");
		for (size_t i = 0; i < rr->n_needs_restart; i++)
			printf("%s\n", rr->needs_restart[i]);
	}
	broker__control__reload_reply__free_unpacked(rr, NULL);
	return 0;
}
