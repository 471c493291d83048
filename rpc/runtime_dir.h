/* runtime_dir.h - where brokerd keeps its control socket, shared by brokerd and brokerctl
 * so both sides always agree without either duplicating the rule. */
#ifndef BROKER_RUNTIME_DIR_H
#define BROKER_RUNTIME_DIR_H

/* File name of the control socket inside the runtime dir. */
#define RUNTIME_CTL_SOCKET "ctl.sock"

/*
 * The built-in default runtime dir (malloc'd, NULL on out of memory):
 * $XDG_RUNTIME_DIR/broker if set and absolute, /run/broker for root,
 * /tmp/broker-UID otherwise.  Flags and BROKER_RUNTIME_DIR are applied by
 * the caller, which knows its own precedence rules.
 */
char *runtime_dir_default(void);

/* "ipc://DIR/ctl.sock" (malloc'd, NULL on out of memory). */
char *runtime_dir_ctl_url(const char *dir);

#endif
