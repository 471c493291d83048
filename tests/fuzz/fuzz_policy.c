/* fuzz_policy.c - libFuzzer target: what a peer may reach and open here
 * (broker/peer_policy.c) and which carriers need the secret
 * (broker/peer_auth.c), on inputs a hostile peer controls.
 *
 * Input: NUL-separated fields.  The first is the OPEN target or listen URL
 * the peer sends; the second a pattern; the third a --mapping-ports text.
 * Each is run through: the glob against itself and the other, the pattern
 * and port parsers, a policy built from the pattern (when it parses), and
 * the connect and listen decisions, trusted and not, plus the carrier
 * option parser.  Invariants: an exec: target is never allowed unless the
 * pattern is exactly the target; a target allowed through a pattern never
 * resolves into the (fixed) runtime or state directory. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/config.h"
#include "broker/log.h"
#include "broker/mapping.h"
#include "broker/peer_auth.h"
#include "broker/peer_policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RT "/tmp/fuzz-policy-rt"
#define ST "/tmp/fuzz-policy-st"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_configure(BROKER_LOG_ERROR, LOG_FORMAT_TEXT);
	return 0;
}

/* Field i of the NUL-separated input (a copy), or "". */
static char *field(const uint8_t *data, size_t size, int i)
{
	size_t start = 0, n;
	char *out;

	for (int k = 0; k < i; k++) {
		const uint8_t *z = memchr(data + start, 0, size - start);
		if (!z)
			return strdup("");
		start = (size_t)(z - data) + 1;
	}
	const uint8_t *z = memchr(data + start, 0, size - start);
	n = z ? (size_t)(z - (data + start)) : size - start;
	out = malloc(n + 1);
	if (!out)
		abort();
	memcpy(out, data + start, n);
	out[n] = '\0';
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *target = field(data, size, 0), *pattern = field(data, size, 1), *ports = field(data, size, 2);
	char out[4096], why[1024];
	struct peer_port_range r[PEER_POLICY_MAX_RANGES];
	struct broker_config cfg;
	struct peer_policy *p = NULL;
	struct carrier_opts co;
	size_t nr;

	(void)peer_policy_glob(pattern, target);
	(void)peer_policy_glob(target, target);
	(void)peer_policy_is_loopback(target);
	(void)peer_policy_parse_ports(ports, r, PEER_POLICY_MAX_RANGES, &nr, why, sizeof(why));
	for (int role = PEER_AUTH_LISTEN; role <= PEER_AUTH_STDIO; role++)
		if (carrier_opts_parse(target, (enum peer_auth_role)role, &co, why, sizeof(why)) == 0)
			carrier_opts_free(&co);

	memset(&cfg, 0, sizeof(cfg));
	cfg.runtime_dir = (char *)RT;
	cfg.state_dir = (char *)ST;
	cfg.mapping_bind = (int)(size & 1);
	cfg.mapping_allow_privileged = (size & 2) != 0;
	cfg.mapping_ports = *ports ? ports : NULL;
	if (peer_policy_pattern_check(pattern, why, sizeof(why)) == 0) {
		cfg.peer_allow_connect[0] = pattern;
		cfg.n_peer_allow_connect = 1;
		cfg.peer_allow_listen[0] = pattern;
		cfg.n_peer_allow_listen = 1;
	}
	if (peer_policy_new(&cfg, &p, why, sizeof(why)) == 0) {
		peer_policy_set_name(p, "fuzz");
		for (int trusted = 0; trusted < 2; trusted++) {
			int rc = peer_policy_connect(p, target, trusted, out, sizeof(out), why, sizeof(why));
			if (rc == 0 && !strncasecmp(target, "exec:", 5) && strcmp(pattern, target))
				abort();   /* exec: reached without a pattern naming it exactly */
			if (rc == 0 && !strncmp(out, "unix://" RT, strlen("unix://" RT)) &&
			    (out[strlen("unix://" RT)] == '/' || out[strlen("unix://" RT)] == '\0'))
				abort();   /* our runtime dir reached */
			(void)peer_policy_listen(p, target, trusted, why, sizeof(why));
		}
		(void)peer_policy_port(p, (unsigned)(size % 70000), why, sizeof(why));
		peer_policy_free(p);
	}
	free(target);
	free(pattern);
	free(ports);
	return 0;
}
