/* store.h - the broker's persistent state in sqlite (WAL). */
#ifndef BROKER_STORE_H
#define BROKER_STORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * One writer: the loop thread.  Schema version lives in PRAGMA user_version
 * and is migrated forward step by step inside a transaction at open.
 * A database from a newer broker (higher user_version) is refused.
 */
struct store;

#define STORE_SCHEMA_VERSION 2

/*
 * Open (creating if absent) the database at path, creating its directory
 * (0700) if needed.  Errors name the file, the cause and the fix:
 *   "/var/lib/broker/broker.db: database is locked by another process (is another brokerd running?)"
 *   "...: read-only ..." / "...: file is not a database (corrupt; move it aside to start fresh)"
 * Never resets or deletes an existing file.
 */
int store_open(const char *path, struct store **out, char *err, size_t errlen);
void store_close(struct store *st);
int store_schema_version(struct store *st);

struct store_route {
	const char *name;
	const char *listen;
	const char *connect;
	int max_connections;  /* 0: unlimited */
	int64_t created;      /* unix seconds; set by store_route_insert */
};

/* -EEXIST if the name is taken. */
int store_route_insert(struct store *st, const struct store_route *r, char *err, size_t errlen);
/* -ENOENT if absent. */
int store_route_delete(struct store *st, const char *name, char *err, size_t errlen);
/* Calls fn for each route in name order; a non-zero return from fn stops and is returned. */
int store_route_foreach(struct store *st, int (*fn)(void *arg, const struct store_route *r), void *arg);

/* Plugin key-value area; values are blobs.  get: -ENOENT if absent; *value malloc'd. */
int store_kv_get(struct store *st, const char *plugin, const char *key, void **value, size_t *len);
int store_kv_set(struct store *st, const char *plugin, const char *key, const void *value, size_t len);
int store_kv_delete(struct store *st, const char *plugin, const char *key);

/* Group many writes into one transaction (one fsync): begin, writes, commit. */
int store_begin(struct store *st);
int store_commit(struct store *st);

/* Published ports (mapping.h); connect is the addresses joined by single spaces. */
struct store_mapping {
	int origin;              /* 0: found here, 1: from the peer */
	const char *peer;        /* origin 1: the peer's broker id */
	const char *source;
	const char *owner;
	const char *description;
	int proto;
	const char *host_ip;
	int host_port;
	const char *connect;
};
int store_mapping_put(struct store *st, const struct store_mapping *m);
int store_mapping_delete(struct store *st, const struct store_mapping *m);
int store_mapping_foreach(struct store *st, int origin, int (*fn)(void *arg, const struct store_mapping *m), void *arg);
int store_mapping_delete_peer(struct store *st, const char *peer);
/* Where the peer's mapping sync stands (epoch, generation). -ENOENT if never synced. */
int store_sync_get(struct store *st, const char *peer, char *epoch, size_t epochlen, uint64_t *generation);
int store_sync_put(struct store *st, const char *peer, const char *epoch, uint64_t generation);

#endif
