/* ctl_internal.h - what the control service's files share: reply helpers
 * (ctl_service.c) and the mapping methods (ctl_mapping.c). */
#ifndef BROKER_CTL_INTERNAL_H
#define BROKER_CTL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "rpc/rpc.h"

/* A failed call always carries a reason ("what: strerror" when err is empty). */
Broker__Rpc__Status ctl_fail(int rc, char *err, size_t errlen, const char *what);
Broker__Rpc__Status ctl_bad_body(char *err, size_t errlen, const char *what);
Broker__Rpc__Status ctl_pack_reply(const ProtobufCMessage *msg, uint8_t **reply, size_t *reply_len, char *err,
                                   size_t errlen);

/* ctl_mapping.c: mapping.list, mapping.add, mapping.remove (ctx: struct broker *). */
Broker__Rpc__Status ctl_mapping_list(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                     size_t *reply_len, char *err, size_t errlen);
Broker__Rpc__Status ctl_mapping_add(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                    size_t *reply_len, char *err, size_t errlen);
Broker__Rpc__Status ctl_mapping_remove(void *ctx, const uint8_t *body, size_t len, uint8_t **reply,
                                       size_t *reply_len, char *err, size_t errlen);

#endif
