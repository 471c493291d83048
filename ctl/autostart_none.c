/* autostart_none.c - autostart.h where brokerctl does not register anything
 * itself: the service manager starts brokerd (the systemd user unit). */
#include "config.h"

#include <errno.h>

#include "broker/errfmt.h"
#include "ctl/autostart.h"

static int not_here(char *err, size_t errlen)
{
	return errfmt(err, errlen, -ENOTSUP,
	              "autostart registers a Windows logon task; here let systemd start brokerd: "
	              "systemctl --user enable --now brokerd (or, as root, systemctl enable --now brokerd)");
}

int autostart_enable(const char *program, const char *args, char *err, size_t errlen)
{
	(void)program, (void)args;
	return not_here(err, errlen);
}

int autostart_disable(char *err, size_t errlen)
{
	return not_here(err, errlen);
}

int autostart_query(bool *exists, bool *enabled, char *program, size_t plen, char *args, size_t alen, char *err,
                    size_t errlen)
{
	(void)exists, (void)enabled, (void)program, (void)plen, (void)args, (void)alen;
	return not_here(err, errlen);
}
