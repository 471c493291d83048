/* main.c - brokerd: parse settings, run the broker, exit 0 on a clean stop. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/config.h"
#include "broker/log.h"

/*
 * NNG 1.5.2 leaks a listener's internals when the control server replaces one
 * wedged by a client that hung up mid-handshake (see rpc/ctl_server.c).  The
 * leak is bounded (one listener per wedge) and inside libnng, so sanitizer
 * runs ignore exactly that library rather than fail on it.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libnng.so\n";
}

int main(int argc, char **argv)
{
	struct broker b;
	char err[1024] = "";
	int rc;

	memset(&b, 0, sizeof(b));
	rc = config_load(&b.cfg, argc, argv, err, sizeof(err));
	if (rc < 0) {
		/* The reason already says where to look ("see --help" for flags); one line is enough. */
		fprintf(stderr, "brokerd: %s\n", err);
		config_free(&b.cfg);
		return 2;
	}
	if (b.cfg.show_help) {
		config_print_help(stdout, argv[0]);
		config_free(&b.cfg);
		return 0;
	}
	if (b.cfg.show_version) {
		printf("brokerd %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, BROKER_ABI_MAJOR, BROKER_ABI_MINOR);
		config_free(&b.cfg);
		return 0;
	}
	if (b.cfg.check_config) {
		/* Quiet plugins: their "loaded" lines are not what a check is for. */
		log_configure(b.cfg.log_level < BROKER_LOG_WARN ? b.cfg.log_level : BROKER_LOG_WARN, b.cfg.log_format);
		rc = broker_check_config(&b, stderr);
		if (rc == 0)
			printf("brokerd: configuration OK (%s)\n",
			       b.cfg.config_file ? b.cfg.config_file : "built-in defaults");
		config_free(&b.cfg);
		return rc < 0 ? 2 : 0;
	}
	log_configure(b.cfg.log_level, b.cfg.log_format);
	rc = broker_init(&b, argc, argv);
	if (rc == 0)
		rc = broker_run(&b);
	broker_fini(&b);
	return rc < 0 ? 1 : 0;
}
