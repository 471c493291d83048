/*
 * tests/unit/test_ipt_parse.c - the iptables watcher's parsing of
 * iptables-save output (plugins/iptables/ipt_parse.c, compiled in): words,
 * chain globs, each rule shape it takes or refuses, and whole dumps
 * (grouping, truncation, hostile lines, caps).  TAP.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/iptables/ipt.h"
#include "tests/unit/tap.h"

static char logbuf[1 << 16];
static size_t loglen;
static int warnings;

static void test_log(void *arg, enum broker_log_level level, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	if (level <= BROKER_LOG_WARN)
		warnings++;
	va_start(ap, fmt);
	if (loglen < sizeof(logbuf) - 1)
		loglen += (size_t)vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen, fmt, ap);
	va_end(ap);
	if (loglen < sizeof(logbuf) - 1)
		logbuf[loglen++] = '\n';
	logbuf[loglen < sizeof(logbuf) ? loglen : sizeof(logbuf) - 1] = '\0';
}

static void log_clear(void)
{
	loglen = 0;
	logbuf[0] = '\0';
	warnings = 0;
}

static void test_tokenize(void)
{
	char line[256], *tok[8];
	int n;

	snprintf(line, sizeof(line), "-A DOCKER  -m comment --comment \"a \\\"q\\\" b\\\\\" -j X\n");
	n = ipt_tokenize(line, tok, 8);
	ok(n == 8 && strcmp(tok[5], "a \"q\" b\\") == 0 && strcmp(tok[7], "X") == 0,
	   "quoted words keep blanks and escapes (%d words, \"%s\")", n, n > 5 ? tok[5] : "");
	snprintf(line, sizeof(line), "-A X --comment \"open");
	ok(ipt_tokenize(line, tok, 8) == -EINVAL, "an open quote: -EINVAL");
	snprintf(line, sizeof(line), "a b c d e f g h i");
	ok(ipt_tokenize(line, tok, 8) == -EINVAL, "more words than room: -EINVAL");
	snprintf(line, sizeof(line), "   \t\r\n");
	ok(ipt_tokenize(line, tok, 8) == 0, "blanks only: no words");
}

static void test_chains(void)
{
	ok(ipt_chain_watched("KUBE-NODEPORTS,CNI-DN-*,DOCKER", "CNI-DN-1234"), "a glob matches");
	ok(ipt_chain_watched("KUBE-NODEPORTS,CNI-DN-*,DOCKER", "DOCKER"), "a name matches");
	ok(!ipt_chain_watched("KUBE-NODEPORTS,CNI-DN-*,DOCKER", "DOCKER-USER"), "a longer name does not");
	ok(!ipt_chain_watched(",,", "DOCKER"), "empty patterns match nothing");
}

/* Parse one rule line in the DOCKER chain (KUBE-EXT-ABC declared). */
static int rule(const char *text, int v6, struct ipt_rule *r, const char **why)
{
	static char *declared[] = { (char *)"DOCKER", (char *)"KUBE-EXT-ABC" };
	struct ipt_chainset cs = { declared, 2 };
	char line[512], *tok[64];
	int n;

	snprintf(line, sizeof(line), "%s", text);
	n = ipt_tokenize(line, tok, 64);
	return ipt_parse_rule("DOCKER,KUBE-*", v6, tok, n, &cs, r, why);
}

static void test_rules(void)
{
	struct ipt_rule r;
	const char *why = NULL;
	int k;

	k = rule("-A DOCKER -d 127.0.0.1/32 ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT "
	         "--to-destination 172.17.0.2:80", 0, &r, &why);
	ok(k == 1 && strcmp(r.id, "DOCKER:tcp:8080") == 0 && r.proto == BROKER_PROTO_TCP &&
	   r.dport == 8080 && strcmp(r.item.host_ip, "127.0.0.1") == 0 &&
	   strcmp(r.item.connect, "172.17.0.2:80") == 0,
	   "DNAT with -d host: %s %s -> %s", r.id, r.item.host_ip, r.item.connect);
	k = rule("-A DOCKER ! -d 10.0.0.1 -p udp --dport 53 -j DNAT --to-destination 172.17.0.3", 0, &r, &why);
	ok(k == 1 && strcmp(r.id, "DOCKER:udp:53") == 0 && strcmp(r.item.host_ip, "0.0.0.0") == 0 &&
	   strcmp(r.item.connect, "172.17.0.3:53") == 0,
	   "! -d is the wildcard; no port keeps dport: %s -> %s", r.item.host_ip, r.item.connect);
	k = rule("-A DOCKER -d 10.0.0.0/8 -p 17 --dport 53 -j DNAT --to-destination 1.2.3.4:5353", 0, &r, &why);
	ok(k == 1 && r.proto == BROKER_PROTO_UDP && strcmp(r.item.host_ip, "0.0.0.0") == 0,
	   "-p 17 is udp; a network for -d is the wildcard");
	k = rule("-A KUBE-NODEPORTS -p tcp --dport 30080 -j KUBE-EXT-ABC", 0, &r, &why);
	ok(k == 1 && strcmp(r.item.connect, "127.0.0.1:30080") == 0,
	   "a jump to a declared chain is a node port: %s", r.item.connect);
	k = rule("-A DOCKER -p tcp --dport 8080 -j REDIRECT --to-ports 9090", 0, &r, &why);
	ok(k == 1 && strcmp(r.item.connect, "127.0.0.1:9090") == 0, "REDIRECT --to-ports: %s",
	   r.item.connect);
	k = rule("-A DOCKER -d ::1/128 -p tcp --dport 8080 -j REDIRECT", 1, &r, &why);
	ok(k == 1 && strcmp(r.id, "DOCKER:tcp:8080:v6") == 0 && strcmp(r.item.host_ip, "::1") == 0 &&
	   strcmp(r.item.connect, "[::1]:8080") == 0, "IPv6 REDIRECT: %s %s -> %s", r.id, r.item.host_ip,
	   r.item.connect);
	k = rule("-A DOCKER -p tcp --dport 8443 -j DNAT --to-destination [fd00::2]:443", 1, &r, &why);
	ok(k == 1 && strcmp(r.item.connect, "[fd00::2]:443") == 0, "IPv6 DNAT: %s", r.item.connect);
	k = rule("-A DOCKER -p tcp --dport 8443 -j DNAT --to-destination fd00::2", 1, &r, &why);
	ok(k == 1 && strcmp(r.item.connect, "[fd00::2]:8443") == 0, "IPv6 DNAT without port: %s",
	   r.item.connect);

	ok(rule("-A OTHER -p tcp --dport 80 -j DNAT --to-destination 1.2.3.4", 0, &r, &why) == 0,
	   "another chain: not ours");
	ok(rule("-A DOCKER -i docker0 -j RETURN", 0, &r, &why) == 0, "-j RETURN without a port: not ours");
	ok(rule("-A DOCKER -p tcp --dport 80", 0, &r, &why) == 0, "no target: not ours");
	ok(rule("-A DOCKER -p tcp --dport 80 -j ACCEPT", 0, &r, &why) == 0, "-j ACCEPT: not ours");
	ok(rule("-N DOCKER", 0, &r, &why) == 0, "not an -A line: not ours");

	static const struct {
		const char *line, *why;
	} bad[] = {
		{ "-A DOCKER -p", "-p without a value" },
		{ "-A DOCKER ! -p tcp --dport 80 -j DNAT --to-destination 1.2.3.4", "negated protocol" },
		{ "-A DOCKER -p tcp -d", "-d without a value" },
		{ "-A DOCKER -p tcp --dport", "--dport without a value" },
		{ "-A DOCKER -p tcp --dport 80 -j", "-j without a target" },
		{ "-A DOCKER -p tcp --dport 80 -j DNAT --to-destination", "--to-destination without a value" },
		{ "-A DOCKER -p tcp --dport 80 -j REDIRECT --to-ports", "--to-ports without a value" },
		{ "-A DOCKER -p tcp -j DNAT --to-destination 1.2.3.4", "DNAT without --dport" },
		{ "-A DOCKER -p tcp ! --dport 80 -j DNAT --to-destination 1.2.3.4", "negated --dport" },
		{ "-A DOCKER -p icmp --dport 80 -j DNAT --to-destination 1.2.3.4", "protocol is not tcp or udp" },
		{ "-A DOCKER --dport 80 -j DNAT --to-destination 1.2.3.4", "protocol is not tcp or udp" },
		{ "-A DOCKER -p tcp --dport 80:90 -j DNAT --to-destination 1.2.3.4",
		  "--dport is not a port 1-65535 (ranges are not supported)" },
		{ "-A DOCKER -p tcp --dport 0 -j DNAT --to-destination 1.2.3.4",
		  "--dport is not a port 1-65535 (ranges are not supported)" },
		{ "-A DOCKER -p tcp --dport 70000 -j DNAT --to-destination 1.2.3.4",
		  "--dport is not a port 1-65535 (ranges are not supported)" },
		{ "-A DOCKER -p tcp --dport 80 -j DNAT", "DNAT without --to-destination" },
		{ "-A DOCKER -p tcp --dport 80 -j DNAT --to-destination 1.2.3.4-1.2.3.9",
		  "--to-destination is not ADDR[:PORT] with a port 1-65535" },
		{ "-A DOCKER -p tcp --dport 80 -j DNAT --to-destination 1.2.3.4:0",
		  "--to-destination is not ADDR[:PORT] with a port 1-65535" },
		{ "-A DOCKER -p tcp --dport 80 -j REDIRECT --to-ports 99999", "--to-ports is not a port 1-65535" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		k = rule(bad[i].line, 0, &r, &why);
		ok(k == -EINVAL && why && strcmp(why, bad[i].why) == 0, "refused: %s -> %s", bad[i].line,
		   why ? why : "(no reason)");
	}
}

#define HEAD "# Generated by iptables-save\n*filter\n-A DOCKER -p tcp --dport 1 -j DNAT --to-destination 9.9.9.9\n" \
	"COMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-EXT-ABC - [0:0]\n"

static const char dump[] =
	HEAD
	"-A DOCKER -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n"
	"-A DOCKER -d 127.0.0.1/32 -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n"
	"-A DOCKER -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n"
	"-A DOCKER -p tcp --dport 70000 -j DNAT --to-destination 172.17.0.2:80\n"
	"-A DOCKER -p tcp --dport 81 -m comment --comment \"unterminated -j DNAT --to-destination 1.2.3.4\n"
	"-A KUBE-NODEPORTS -p tcp --dport 30080 -j KUBE-EXT-ABC\n"
	"-A DOCKER -p udp --dport 53 -j DNAT --to-destination 172.17.0.3\n"
	"COMMIT\n";

static void test_save(void)
{
	struct ipt_parse_ctx ctx = { "DOCKER,KUBE-NODEPORTS", "iptables-save", test_log, NULL };
	struct ipt_owner *o = NULL;
	size_t n = 0, i;
	char *big;
	int r;

	log_clear();
	r = ipt_parse_save(&ctx, 0, dump, strlen(dump), &o, &n);
	ok(r == 0 && n == 3, "a dump: 3 owners (%d, %zu)", r, n);
	if (r == 0 && n == 3) {
		ok(strcmp(o[0].id, "DOCKER:tcp:8080") == 0 && strcmp(o[1].id, "DOCKER:udp:53") == 0 &&
		   strcmp(o[2].id, "KUBE-NODEPORTS:tcp:30080") == 0, "sorted by id: %s %s %s", o[0].id,
		   o[1].id, o[2].id);
		ok(o[0].nitems == 2 && strcmp(o[0].items[0].host_ip, "0.0.0.0") == 0 &&
		   strcmp(o[0].items[1].host_ip, "127.0.0.1") == 0 && o[0].dport == 8080 &&
		   o[0].proto == BROKER_PROTO_TCP, "a repeated rule counts once; items sorted (%zu)",
		   o[0].nitems);
		ok(o[0].mark.seen == 0 && o[0].mark.reported == 0 && o[0].nrep == 0, "nothing reported yet");
	}
	ok(strstr(logbuf, "(DOCKER): --dport is not a port 1-65535") && strstr(logbuf, "cannot split into words") &&
	   strstr(logbuf, "iptables-save: 2 lines skipped") && warnings == 0,
	   "bad lines skipped with debug notes, no warning");
	free(o);

	log_clear();
	r = ipt_parse_save(&ctx, 0, dump, strlen(dump) - strlen("COMMIT\n"), &o, &n);
	ok(r == -EINVAL && o == NULL && n == 0 &&
	   strstr(logbuf, "iptables-save: output has no complete *nat table (truncated?); ignored"),
	   "no COMMIT: refused whole, with a warning");
	r = ipt_parse_save(&ctx, 0, "", 0, &o, &n);
	ok(r == 0 && n == 0, "empty output: no owners");
	free(o);

	/* A line over IPT_LINE_MAX, and one with a NUL byte: skipped, the rest taken. */
	big = malloc(IPT_LINE_MAX + 4096);
	if (big) {
		size_t len = 0;

		len += (size_t)sprintf(big, HEAD "-A DOCKER -p tcp --dport 1 -m comment --comment ");
		memset(big + len, 'x', IPT_LINE_MAX);
		len += IPT_LINE_MAX;
		len += (size_t)sprintf(big + len, "\n-A DOCKER -p tcp --dport 2 -j DNAT --to-destination 1.1.1.1");
		big[len++] = '\0';
		len += (size_t)sprintf(big + len, "\n-A DOCKER -p tcp --dport 3 -j DNAT --to-destination 1.1.1.1\nCOMMIT\n");
		log_clear();
		r = ipt_parse_save(&ctx, 0, big, len, &o, &n);
		ok(r == 0 && n == 1 && strcmp(o[0].id, "DOCKER:tcp:3") == 0 && strstr(logbuf, "bytes long, skipped") &&
		   strstr(logbuf, "2 lines skipped"), "an over-long line and a NUL byte are skipped (%zu owners)", n);
		free(o);
		free(big);
	}

	/* More rules per port than IPT_ITEMS_MAX: the rest ignored with a warning. */
	{
		char text[4096];
		size_t len = (size_t)sprintf(text, HEAD);

		for (i = 0; i < IPT_ITEMS_MAX + 2; i++)
			len += (size_t)sprintf(text + len, "-A DOCKER -p tcp --dport 80 -j DNAT --to-destination 10.0.0.%zu\n",
			                       i + 1);
		sprintf(text + len, "COMMIT\n");
		log_clear();
		r = ipt_parse_save(&ctx, 0, text, strlen(text), &o, &n);
		ok(r == 0 && n == 1 && o[0].nitems == IPT_ITEMS_MAX && warnings == 1 &&
		   strstr(logbuf, "more than 4096 ports or 8 rules per port; the rest are ignored (narrow chains=)"),
		   "more than %d rules for one port: capped with a warning", IPT_ITEMS_MAX);
		free(o);
	}
}

int main(void)
{
	plan(48);
	test_tokenize();
	test_chains();
	test_rules();
	test_save();
	return done_testing();
}
