/* session.c - brokerctl's connection to the broker and its one-call wrapper. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/brokerctl.h"
#include "rpc/ctl_client.h"
#include "rpc/runtime_dir.h"

char *session_runtime_dir(const struct opts *o)
{
	/* Resolved as brokerd resolves it, so "--runtime-dir ./run" means the same to both. */
	if (o->runtime_dir)
		return runtime_dir_resolve(o->runtime_dir);
	if (getenv("BROKER_RUNTIME_DIR") && getenv("BROKER_RUNTIME_DIR")[0])
		return runtime_dir_resolve(getenv("BROKER_RUNTIME_DIR"));
	return runtime_dir_default();
}

int session_open(struct session *s)
{
	char err[1024];
	char *dir = session_runtime_dir(s->o);
	char *url = dir ? runtime_dir_ctl_url(dir) : NULL;
	int rc;

	if (!url) {
		free(dir);
		return die(1, "out of memory");
	}
	rc = ctl_client_open(url, s->o->timeout_ms, &s->c, err, sizeof(err));
	free(url);
	free(dir);
	if (rc < 0)
		return die(1, "%s", err);
	return 0;
}

void session_close(struct session *s)
{
	ctl_client_close(s->c);
	s->c = NULL;
}

int call(struct session *s, const char *service, const char *method, const ProtobufCMessage *req,
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

int call_quiet(struct session *s, const char *service, const char *method, uint8_t **reply, size_t *reply_len)
{
	Broker__Rpc__Status st = BROKER__RPC__STATUS__OK;
	char err[1024] = "";
	int rc;

	*reply = NULL;
	rc = ctl_client_call(s->c, service, method, NULL, 0, &st, reply, reply_len, err, sizeof(err));
	if (rc < 0 || st != BROKER__RPC__STATUS__OK) {
		free(*reply);
		*reply = NULL;
		return -1;
	}
	return 0;
}

int cmd_simple(struct session *s, const char *service, const char *method, const ProtobufCMessage *req,
               const char *done)
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
