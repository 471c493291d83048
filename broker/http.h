/* http.h - /health, /ready and /metrics over evhttp. */
#ifndef BROKER_HTTP_H
#define BROKER_HTTP_H

#include <stddef.h>

struct broker;
struct http_server;

/* listen: "ADDR:PORT" (loopback unless an address is given). */
int http_start(struct broker *b, const char *listen, struct http_server **out, char *err, size_t errlen);
void http_stop(struct http_server *h);
/* The port actually bound (the kernel's choice when port 0 was asked); 0 for NULL. */
unsigned http_port(const struct http_server *h);
/* Render /metrics (Prometheus text) into a malloc'd string: used by the handler and tests. */
char *http_render_metrics(struct broker *b);

#endif
