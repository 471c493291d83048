/* runtime_dir.c - the default runtime dir and control socket URL. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc/runtime_dir.h"

char *runtime_dir_default(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *dir = NULL;

	/* A relative XDG_RUNTIME_DIR is invalid per the XDG spec; ignore it. */
	if (xdg && xdg[0] == '/') {
		if (asprintf(&dir, "%s/broker", xdg) < 0)
			return NULL;
		return dir;
	}
	if (geteuid() == 0)
		return strdup("/run/broker");
	if (asprintf(&dir, "/tmp/broker-%lu", (unsigned long)geteuid()) < 0)
		return NULL;
	return dir;
}

char *runtime_dir_ctl_url(const char *dir)
{
	char *url = NULL;

	if (asprintf(&url, "ipc://%s/%s", dir, RUNTIME_CTL_SOCKET) < 0)
		return NULL;
	return url;
}
