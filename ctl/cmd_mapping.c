/* cmd_mapping.c - brokerctl mapping list|add|rm. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/display.h"
#include "ctl/brokerctl.h"

json_t *mapping_json(const Broker__Control__MappingInfo *m)
{
	json_t *connect = json_array();

	for (size_t i = 0; i < m->n_connect; i++)
		json_array_append_new(connect, json_string(m->connect[i]));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "source",
	                 m->source, "owner", m->owner, "description", m->description, "proto", m->proto,
	                 "host_ip", m->host_ip, "host_port", (json_int_t)m->host_port, "connect", connect,
	                 "state", m->state, "origin", m->origin, "listen", m->listen, "conns_total",
	                 (json_int_t)m->conns_total, "conns_active", (json_int_t)m->conns_active, "bytes_in",
	                 (json_int_t)m->bytes_in, "bytes_out", (json_int_t)m->bytes_out, "errors",
	                 (json_int_t)m->errors);
}

void mapping_host_port(char *buf, size_t len, const Broker__Control__MappingInfo *m)
{
	if (!m->host_ip[0])
		snprintf(buf, len, "%u", m->host_port);
	else if (strchr(m->host_ip, ':'))
		snprintf(buf, len, "[%s]:%u", m->host_ip, m->host_port);
	else
		snprintf(buf, len, "%s:%u", m->host_ip, m->host_port);
}

/* "172.17.0.2:80", or "172.17.0.2:80 +1" when there are more (--json lists them all). */
static void connect_text(char *buf, size_t len, const Broker__Control__MappingInfo *m)
{
	if (m->n_connect == 0)
		snprintf(buf, len, "-");
	else if (m->n_connect == 1)
		snprintf(buf, len, "%s", m->connect[0]);
	else
		snprintf(buf, len, "%s +%zu", m->connect[0], m->n_connect - 1);
}

static void mapping_row(struct table *t, const Broker__Control__MappingInfo *m)
{
	char id[80], owner[400], hostport[128], connect[300], conns[64], in[32], out[32], bytes[80];

	/* Short ids here; --json has them whole. */
	display_short_id(id, sizeof(id), m->owner);
	if (m->description[0])
		snprintf(owner, sizeof(owner), "%s (%s)", id, m->description);
	else
		snprintf(owner, sizeof(owner), "%s", id);
	mapping_host_port(hostport, sizeof(hostport), m);
	connect_text(connect, sizeof(connect), m);
	snprintf(conns, sizeof(conns), "%llu", (unsigned long long)m->conns_active);
	human_bytes(in, sizeof(in), m->bytes_in);
	human_bytes(out, sizeof(out), m->bytes_out);
	snprintf(bytes, sizeof(bytes), "%s/%s", in, out);
	table_row(t, m->source, owner, m->proto, hostport, connect, m->state, m->origin, conns, bytes);
}

static int fetch_list(struct session *s, Broker__Control__MappingListReply **out)
{
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc = call(s, "mapping", "list", NULL, &rep, &len);

	if (rc)
		return rc;
	UNPACK_OR_FAIL(*out, broker__control__mapping_list_reply__unpack, rep, len);
	return 0;
}

int cmd_mapping_list(struct session *s)
{
	Broker__Control__MappingListReply *ml;
	int rc = fetch_list(s, &ml);

	if (rc)
		return rc;
	if (s->o->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < ml->n_mappings; i++)
			json_array_append_new(a, mapping_json(ml->mappings[i]));
		print_json(a);
	} else if (ml->n_mappings == 0) {
		printf("no mappings (watchers report them; add one with: brokerctl mapping add PORT --connect HOST:PORT)\n");
	} else {
		struct table t = { .ncols = 9 };

		table_row(&t, "SOURCE", "OWNER/DESCRIPTION", "PROTO", "HOST-PORT", "CONNECT", "STATE", "ORIGIN",
		          "CONNS", "BYTES");
		for (size_t i = 0; i < ml->n_mappings; i++)
			mapping_row(&t, ml->mappings[i]);
		table_print(&t);
	}
	broker__control__mapping_list_reply__free_unpacked(ml, NULL);
	return 0;
}

/* The peer this broker's mappings are exported to: the default link, if one is up ("" if none). */
static void exported_to(struct session *s, char *peer, size_t len)
{
	Broker__Control__LinkStatusReply *ls;
	uint8_t *rep = NULL;
	size_t rlen = 0;

	peer[0] = '\0';
	if (call_quiet(s, "link", "status", &rep, &rlen) != 0)
		return;
	ls = broker__control__link_status_reply__unpack(NULL, rlen, rep);
	free(rep);
	if (!ls)
		return;
	for (size_t i = 0; i < ls->n_links; i++)
		if (ls->links[i]->is_default && !strcmp(ls->links[i]->state, "up"))
			snprintf(peer, len, "%s", ls->links[i]->peer_id);
	broker__control__link_status_reply__free_unpacked(ls, NULL);
}

/*
 * After an add: say which way it goes (the peer listens, this side is
 * connected to) and what became of it (exported, or in conflict with whom).
 */
static int report_added(struct session *s, const char *owner)
{
	Broker__Control__MappingListReply *ml;
	const Broker__Control__MappingInfo *m = NULL;
	char peer[160];
	int rc = fetch_list(s, &ml);

	if (rc)
		return rc;
	for (size_t i = 0; i < ml->n_mappings && !m; i++)
		if (strcmp(ml->mappings[i]->source, "manual") == 0 && strcmp(ml->mappings[i]->owner, owner) == 0 &&
		    strcmp(ml->mappings[i]->origin, "local") == 0)
			m = ml->mappings[i];
	exported_to(s, peer, sizeof(peer));
	if (s->o->json) {
		json_t *j = m ? mapping_json(m) : json_pack("{s:s, s:s}", "source", "manual", "owner", owner);
		if (j)
			json_object_set_new(j, "exported_to", peer[0] ? json_string(peer) : json_null());
		print_json(j);
	} else if (m) {
		char connect[1024], line[4096];

		join(connect, sizeof(connect), m->connect, m->n_connect);
		/* print_line escapes what came from a peer (owner, connect, state). */
		snprintf(line, sizeof(line), "mapping manual/%s: %s port %u on the peer%s%s%s -> %s here (%s%s)", m->owner,
		         m->proto, m->host_port, peer[0] ? " (" : "", peer, peer[0] ? ")" : "", connect, m->state,
		         peer[0] ? "" : "; no link to the peer is up: it listens once one is");
		print_line(line);
	} else {
		printf("mapping manual/%s added\n", owner);
	}
	broker__control__mapping_list_reply__free_unpacked(ml, NULL);
	return 0;
}

int cmd_mapping_add(struct session *s, uint32_t port)
{
	Broker__Control__MappingAddRequest req = BROKER__CONTROL__MAPPING_ADD_REQUEST__INIT;
	const struct opts *o = s->o;
	char owner[300];
	uint8_t *rep = NULL;
	size_t len = 0;
	int rc;

	req.owner = (char *)(o->owner ? o->owner : "");
	req.proto = (char *)(o->proto ? o->proto : "");
	req.host_ip = (char *)(o->host_ip ? o->host_ip : "");
	req.host_port = port;
	req.n_connect = (size_t)o->nconnects;
	req.connect = (char **)o->connects;
	req.description = (char *)(o->description ? o->description : "");
	if ((rc = call(s, "mapping", "add", &req.base, &rep, &len)))
		return rc;
	free(rep);
	/* The broker's default owner is PROTO-PORT. */
	if (o->owner && o->owner[0])
		snprintf(owner, sizeof(owner), "%s", o->owner);
	else
		snprintf(owner, sizeof(owner), "%s-%u",
		         o->proto && (strcmp(o->proto, "udp") == 0 || strcmp(o->proto, "UDP") == 0) ? "udp" : "tcp",
		         port);
	return report_added(s, owner);
}

int cmd_mapping_rm(struct session *s, const char *owner)
{
	Broker__Control__MappingRemoveRequest req = BROKER__CONTROL__MAPPING_REMOVE_REQUEST__INIT;
	char done[400];

	req.owner = (char *)owner;
	snprintf(done, sizeof(done), "mapping manual/%s removed", owner);
	return cmd_simple(s, "mapping", "remove", &req.base, done);
}
