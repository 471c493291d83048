/* cmd_mapping.c - brokerctl mapping list|add|rm. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void mapping_row(struct table *t, const Broker__Control__MappingInfo *m)
{
	char owner[600], hostport[128], connect[1024], conns[64], in[32], out[32], bytes[80];

	if (m->description[0])
		snprintf(owner, sizeof(owner), "%s (%s)", m->owner, m->description);
	else
		snprintf(owner, sizeof(owner), "%s", m->owner);
	mapping_host_port(hostport, sizeof(hostport), m);
	join(connect, sizeof(connect), m->connect, m->n_connect);
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

/* After an add: show what became of it (exported, or in conflict with whom). */
static int report_added(struct session *s, const char *owner)
{
	Broker__Control__MappingListReply *ml;
	const Broker__Control__MappingInfo *m = NULL;
	int rc = fetch_list(s, &ml);

	if (rc)
		return rc;
	for (size_t i = 0; i < ml->n_mappings && !m; i++)
		if (strcmp(ml->mappings[i]->source, "manual") == 0 && strcmp(ml->mappings[i]->owner, owner) == 0 &&
		    strcmp(ml->mappings[i]->origin, "local") == 0)
			m = ml->mappings[i];
	if (s->o->json) {
		print_json(m ? mapping_json(m) : json_pack("{s:s, s:s}", "source", "manual", "owner", owner));
	} else if (m) {
		char hostport[128], connect[1024], line[4096];

		mapping_host_port(hostport, sizeof(hostport), m);
		join(connect, sizeof(connect), m->connect, m->n_connect);
		snprintf(line, sizeof(line), "mapping manual/%s: %s %s -> %s (%s)", m->owner, m->proto, hostport, connect,
		         m->state);
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
