/* store.c - persistent state in sqlite (WAL), schema migrated via PRAGMA user_version. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sqlite3.h>

#include "broker/errfmt.h"
#include "broker/log.h"
#include "broker/platform.h"
#include "broker/store.h"

#define TAG "store"
/* Short: a second brokerd must fail fast with a clear message, not hang. */
#define BUSY_TIMEOUT_MS 200

struct store {
	sqlite3 *db;
	char *path;
	struct platform_lock *lock;   /* PATH.lock, held for as long as the store is open */
	/* Mapping rows come in thousands per sync: their statements are prepared once. */
	sqlite3_stmt *mapping_put, *mapping_delete;
};

/* A statement prepared on first use and kept (reset after each use by the caller). */
static int cached(struct store *st, sqlite3_stmt **slot, const char *sql)
{
	if (*slot)
		return SQLITE_OK;
	return sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
}

static int step_and_reset(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

/*
 * Migration steps, in order.  Step i takes the schema from version i to
 * i + 1; a future version appends a step and bumps STORE_SCHEMA_VERSION.
 * Never edit a step that has shipped: databases in the field ran it.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE routes ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  listen TEXT NOT NULL,"
	"  connect TEXT NOT NULL,"
	"  max_connections INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE plugin_kv ("
	"  plugin TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  value BLOB,"
	"  PRIMARY KEY (plugin, key)"
	");",
	/* 1 -> 2: published ports (mapping.h) and where each peer's sync stands */
	"CREATE TABLE mappings ("
	"  origin INTEGER NOT NULL,"
	"  peer TEXT NOT NULL DEFAULT '',"
	"  source TEXT NOT NULL,"
	"  owner TEXT NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  proto INTEGER NOT NULL,"
	"  host_ip TEXT NOT NULL,"
	"  host_port INTEGER NOT NULL,"
	"  connect TEXT NOT NULL,"
	"  PRIMARY KEY (origin, source, owner, proto, host_ip, host_port)"
	");"
	"CREATE TABLE mapping_sync ("
	"  peer TEXT PRIMARY KEY NOT NULL,"
	"  epoch TEXT NOT NULL,"
	"  generation INTEGER NOT NULL"
	");",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
               "one migration step per schema version");

/* ------------------------------------------------------------ errors */

static int is_locked(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

static int is_readonly(int rc)
{
	return (rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_PERM;
}

/* Turn an sqlite failure during open into the one-line reason a user can act on. */
static int open_error(const char *path, sqlite3 *db, int rc, const char *doing, char *err, size_t errlen)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return errfmt(err, errlen, -EBUSY,
		              "%s: database is locked by another process (is another brokerd running with this state dir?)",
		              path);
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return errfmt(err, errlen, -EROFS, "%s: read-only database: fix permissions or use --state-dir",
		              path);
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return errfmt(err, errlen, -EINVAL,
		              "%s: file is not a database (corrupt?): move it aside to start fresh", path);
	case SQLITE_CANTOPEN:
		return errfmt(err, errlen, -EACCES,
		              "%s: cannot open database (%s): check the directory exists and is writable, or use --state-dir",
		              path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	case SQLITE_FULL:
		return errfmt(err, errlen, -ENOSPC, "%s: disk full while %s: free some space", path, doing);
	case SQLITE_NOMEM:
		return errfmt(err, errlen, -ENOMEM, "%s: out of memory while %s", path, doing);
	default:
		return errfmt(err, errlen, -EIO, "%s: %s: %s", path, doing,
		              db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	}
}

/* Errors after open: map sqlite codes to errno and give the reason. */
static int op_error(struct store *st, int rc, const char *doing, char *err, size_t errlen)
{
	int code = -EIO;

	if (is_locked(rc))
		code = -EBUSY;
	else if (is_readonly(rc))
		code = -EROFS;
	else if ((rc & 0xff) == SQLITE_FULL)
		code = -ENOSPC;
	else if ((rc & 0xff) == SQLITE_NOMEM)
		code = -ENOMEM;
	return errfmt(err, errlen, code, "%s: %s: %s", st->path, doing, sqlite3_errmsg(st->db));
}

/* ------------------------------------------------------------ open */

/* mkdir -p with 0700 for what we create; existing directories keep their mode. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(buf))
		return errfmt(err, errlen, -ENAMETOOLONG, "%s: bad state directory name", dir);
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1;; p++) {
		if (!platform_is_sep(*p) && *p != '\0')
			continue;
		/* Not a drive ("C:" of "C:\\x"), which cannot be created (only where '\\' separates). */
		if (*p != '\0' && p - buf == 2 && buf[1] == ':' && platform_is_sep('\\'))
			continue;
		char c = *p;
		*p = '\0';
		int e = -platform_mkdir(buf, 0700);
		if (e != 0 && e != EEXIST) {
			return errfmt(err, errlen, -e, "%s: cannot create state directory: %s%s", buf, strerror(e),
			              e == EACCES || e == EROFS || e == EPERM ? " (fix permissions or use --state-dir)"
			                                                      : "");
		}
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Run one single-integer query ("PRAGMA user_version"). */
static int query_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Bring the schema from `from` to STORE_SCHEMA_VERSION inside the caller's transaction. */
static int migrate(sqlite3 *db, int from)
{
	char sql[64];
	int rc;

	for (int v = from; v < STORE_SCHEMA_VERSION; v++) {
		rc = exec_sql(db, migrations[v]);
		if (rc != SQLITE_OK)
			return rc;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
	return exec_sql(db, sql);
}

/*
 * Read-only files and directories: sqlite opens a read-only file quietly
 * in read-only mode and only fails at the first write, with a message
 * that does not say which file.  Check up front so the reason is exact.
 * (access() is always true for root, except on read-only mounts, so root
 * relies on the sqlite checks that follow; Windows checks the read-only
 * attribute only.)
 */
static bool is_denied(int e)
{
	return e == -EACCES || e == -EROFS || e == -EPERM;
}

static int check_writable(const char *path, const char *dir, char *err, size_t errlen)
{
	int e = platform_check_writable(path, false);

	if (is_denied(e))
		return errfmt(err, errlen, -EROFS, "%s: read-only (%s): fix permissions or use --state-dir",
		              path, strerror(-e));
	e = platform_check_writable(dir, true);
	if (is_denied(e))
		return errfmt(err, errlen, -EROFS,
		              "%s: read-only directory (%s; sqlite needs to create files next to the database): "
		              "fix permissions or use --state-dir",
		              dir, strerror(-e));
	return 0;
}

/*
 * One brokerd per state dir.  sqlite's own locks only show a conflict while
 * a transaction is running, and an exclusive locking mode would also lock
 * out readers (sqlite3 shell, backups), so hold an advisory lock on a file
 * beside the database instead.  The file is left in place on close:
 * removing it would race with the next opener.
 */
static int take_lock(struct store *st, char *err, size_t errlen)
{
	size_t n = strlen(st->path);
	char *lp = malloc(n + sizeof(".lock"));

	if (!lp)
		return errfmt(err, errlen, -ENOMEM, "%s: out of memory", st->path);
	memcpy(lp, st->path, n);
	memcpy(lp + n, ".lock", sizeof(".lock"));
	int e = -platform_lock_file(lp, &st->lock);
	if (e != 0 && e != EWOULDBLOCK) {
		errfmt(err, errlen, -e, "%s: cannot create lock file: %s%s", lp, strerror(e),
		       e == EACCES || e == EROFS || e == EPERM ? " (read-only: fix permissions or use --state-dir)"
		                                               : "");
		free(lp);
		return e == EACCES || e == EPERM ? -EROFS : -e;
	}
	free(lp);
	if (e == EWOULDBLOCK)
		return errfmt(err, errlen, -EBUSY,
		              "%s: database is locked by another process (is another brokerd running with this state dir?)",
		              st->path);
	return 0;
}

/*
 * The database names routes, peers and their addresses: only we may read it.
 * sqlite creates the -wal and -shm files with the database's own mode, so a
 * 0600 database keeps them 0600; older ones (0644, from before) are fixed.
 */
static void make_private(const char *path)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	size_t n = strlen(path);

	platform_state_file_private(path, true);
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		char *p = malloc(n + 5);
		if (!p)
			return;
		memcpy(p, path, n);
		memcpy(p + n, suffix[i], 5);
		platform_state_file_private(p, false);
		free(p);
	}
}

static int open_db(struct store *st, char *err, size_t errlen)
{
	const char *path = st->path;
	int rc, version = 0;

	make_private(path);
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK)
		return open_error(path, st->db, rc, "opening", err, errlen);
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);

	/*
	 * Reading the schema reads the file header, so a file that is not a
	 * database fails here, before anything could write to it.
	 */
	rc = query_int(st->db, "SELECT count(*) FROM sqlite_master", &version);
	if (rc != SQLITE_OK)
		return open_error(path, st->db, rc, "reading the schema", err, errlen);
	rc = query_int(st->db, "PRAGMA user_version", &version);
	if (rc != SQLITE_OK)
		return open_error(path, st->db, rc, "reading the schema version", err, errlen);
	if (version > STORE_SCHEMA_VERSION)
		return errfmt(err, errlen, -EPROTO,
		              "%s: was written by a newer broker (schema %d > %d): upgrade brokerd or use another --state-dir",
		              path, version, STORE_SCHEMA_VERSION);
	if (version < 0)
		return errfmt(err, errlen, -EINVAL,
		              "%s: schema version %d is not one of ours: move the file aside to start fresh", path,
		              version);
	if (sqlite3_db_readonly(st->db, "main") == 1)
		return open_error(path, st->db, SQLITE_READONLY, "opening", err, errlen);

	rc = exec_sql(st->db, "PRAGMA journal_mode = WAL");
	if (rc != SQLITE_OK)
		return open_error(path, st->db, rc, "switching to WAL", err, errlen);

	/*
	 * Prove we can write now rather than at the first route add: another
	 * brokerd on the same state dir holds the write lock, and we want to
	 * say so at startup.  The migration runs in the same transaction.
	 */
	rc = exec_sql(st->db, "BEGIN IMMEDIATE");
	if (rc != SQLITE_OK)
		return open_error(path, st->db, rc, "taking the write lock", err, errlen);
	/* Re-read under the lock: another process may have migrated meanwhile. */
	rc = query_int(st->db, "PRAGMA user_version", &version);
	if (rc == SQLITE_OK && version > STORE_SCHEMA_VERSION) {
		exec_sql(st->db, "ROLLBACK");
		return errfmt(err, errlen, -EPROTO, "%s: was written by a newer broker (schema %d > %d)", path,
		              version, STORE_SCHEMA_VERSION);
	}
	if (rc == SQLITE_OK && version < STORE_SCHEMA_VERSION) {
		rc = migrate(st->db, version);
		if (rc == SQLITE_OK)
			log_info(TAG, "%s: schema migrated from version %d to %d", path, version,
			         STORE_SCHEMA_VERSION);
	}
	if (rc == SQLITE_OK)
		rc = exec_sql(st->db, "COMMIT");
	if (rc != SQLITE_OK) {
		int r = open_error(path, st->db, rc, "migrating the schema", err, errlen);
		exec_sql(st->db, "ROLLBACK");
		return r;
	}

	/* The state db is small (routes, mappings, plugin keys): a quick check costs little. */
	sqlite3_stmt *s;
	rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check(1)", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			const char *res = (const char *)sqlite3_column_text(s, 0);
			rc = res && strcmp(res, "ok") == 0 ? SQLITE_OK : SQLITE_CORRUPT;
		}
		sqlite3_finalize(s);
	}
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		return open_error(path, st->db, rc, "checking integrity", err, errlen);
	return 0;
}

int store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *st;
	char *dir, *slash;
	int rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path))) {
		free(st);
		return errfmt(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	dir = strdup(path);
	if (!dir) {
		rc = errfmt(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	/* The last separator of this OS ('/'; on Windows also '\\', which platform_path_join writes). */
	slash = NULL;
	for (char *p = dir; *p; p++)
		if (platform_is_sep(*p))
			slash = p;
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	rc = make_dirs(dir, err, errlen);
	if (rc == 0)
		rc = check_writable(path, dir, err, errlen);
	free(dir);
	if (rc < 0)
		goto fail;

	rc = take_lock(st, err, errlen);
	if (rc == 0)
		rc = open_db(st, err, errlen);
	if (rc < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->mapping_put);
	sqlite3_finalize(st->mapping_delete);
	/* close_v2: a statement leaked by a bug must not keep the handle (and the lock) open. */
	if (st->db)
		sqlite3_close_v2(st->db);
	/* Release the lock only after the database is closed. */
	platform_unlock_file(st->lock);
	free(st->path);
	free(st);
}

int store_schema_version(struct store *st)
{
	int v = -1;

	if (query_int(st->db, "PRAGMA user_version", &v) != SQLITE_OK)
		return -EIO;
	return v;
}

/* ------------------------------------------------------------ routes */

int store_route_insert(struct store *st, const struct store_route *r, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db,
	                        "INSERT INTO routes(name, listen, connect, max_connections, created) "
	                        "VALUES (?, ?, ?, ?, ?)",
	                        -1, &s, NULL);
	if (rc != SQLITE_OK)
		return op_error(st, rc, "storing a route", err, errlen);
	sqlite3_bind_text(s, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->listen, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, r->connect, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, r->max_connections);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return errfmt(err, errlen, -EEXIST, "route '%s' already exists (remove it first or pick another name)",
		              r->name);
	return op_error(st, rc, "storing a route", err, errlen);
}

int store_route_delete(struct store *st, const char *name, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "DELETE FROM routes WHERE name = ?", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return op_error(st, rc, "removing a route", err, errlen);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return op_error(st, rc, "removing a route", err, errlen);
	if (sqlite3_changes(st->db) == 0)
		return errfmt(err, errlen, -ENOENT, "no stored route named '%s'", name);
	return 0;
}

int store_route_foreach(struct store *st, int (*fn)(void *arg, const struct store_route *r), void *arg)
{
	sqlite3_stmt *s;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(st->db,
	                        "SELECT name, listen, connect, max_connections, created FROM routes ORDER BY name",
	                        -1, &s, NULL);
	if (rc != SQLITE_OK) {
		log_error(TAG, "%s: listing routes: %s", st->path, sqlite3_errmsg(st->db));
		return -EIO;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_route r = {
			.name = (const char *)sqlite3_column_text(s, 0),
			.listen = (const char *)sqlite3_column_text(s, 1),
			.connect = (const char *)sqlite3_column_text(s, 2),
			.max_connections = sqlite3_column_int(s, 3),
			.created = sqlite3_column_int64(s, 4),
		};
		if (!r.name || !r.listen || !r.connect)
			continue;
		ret = fn(arg, &r);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE) {
		log_error(TAG, "%s: listing routes: %s", st->path, sqlite3_errmsg(st->db));
		ret = -EIO;
	}
	sqlite3_finalize(s);
	return ret;
}

/* ------------------------------------------------------------ plugin kv */

/* kv calls have no err buffer: log here, where the failure is handled, and return the code. */
static int kv_fail(struct store *st, int rc, const char *doing, const char *plugin, const char *key)
{
	char why[512];
	int code = op_error(st, rc, doing, why, sizeof(why));

	log_error(TAG, "%s (plugin %s, key %s)", why, plugin, key);
	return code;
}

int store_kv_get(struct store *st, const char *plugin, const char *key, void **value, size_t *len)
{
	sqlite3_stmt *s;
	int rc, ret;

	*value = NULL;
	*len = 0;
	rc = sqlite3_prepare_v2(st->db, "SELECT value FROM plugin_kv WHERE plugin = ? AND key = ?", -1, &s,
	                        NULL);
	if (rc != SQLITE_OK)
		return kv_fail(st, rc, "reading plugin state", plugin, key);
	sqlite3_bind_text(s, 1, plugin, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(s, 0);
		size_t n = (size_t)sqlite3_column_bytes(s, 0);
		/* One spare byte so text values can be used as C strings. */
		char *copy = malloc(n + 1);
		if (!copy) {
			ret = -ENOMEM;
		} else {
			if (n)
				memcpy(copy, blob, n);
			copy[n] = '\0';
			*value = copy;
			*len = n;
			ret = 0;
		}
	} else if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else {
		ret = kv_fail(st, rc, "reading plugin state", plugin, key);
	}
	sqlite3_finalize(s);
	return ret;
}

int store_kv_set(struct store *st, const char *plugin, const char *key, const void *value, size_t len)
{
	sqlite3_stmt *s;
	int rc;

	if (len > INT_MAX)
		return -E2BIG;
	rc = sqlite3_prepare_v2(st->db,
	                        "INSERT OR REPLACE INTO plugin_kv(plugin, key, value) VALUES (?, ?, ?)",
	                        -1, &s, NULL);
	if (rc != SQLITE_OK)
		return kv_fail(st, rc, "writing plugin state", plugin, key);
	sqlite3_bind_text(s, 1, plugin, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	/* zeroblob for empty values: a NULL pointer would store SQL NULL. */
	if (len)
		sqlite3_bind_blob(s, 3, value, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_zeroblob(s, 3, 0);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return kv_fail(st, rc, "writing plugin state", plugin, key);
	return 0;
}

int store_kv_delete(struct store *st, const char *plugin, const char *key)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "DELETE FROM plugin_kv WHERE plugin = ? AND key = ?", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return kv_fail(st, rc, "deleting plugin state", plugin, key);
	sqlite3_bind_text(s, 1, plugin, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return kv_fail(st, rc, "deleting plugin state", plugin, key);
	return sqlite3_changes(st->db) ? 0 : -ENOENT;
}

/* ------------------------------------------------------------ transactions */

int store_begin(struct store *st)
{
	int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		log_error(TAG, "%s: begin: %s", st->path, sqlite3_errmsg(st->db));
		return -EIO;
	}
	return 0;
}

int store_commit(struct store *st)
{
	int rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		log_error(TAG, "%s: commit: %s (is the disk full?)", st->path, sqlite3_errmsg(st->db));
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------ mappings */

static int mapping_fail(struct store *st, int rc, const char *doing)
{
	char why[512];
	int code = op_error(st, rc, doing, why, sizeof(why));

	log_error(TAG, "%s", why);
	return code;
}

int store_mapping_put(struct store *st, const struct store_mapping *m)
{
	sqlite3_stmt *s;
	int rc;

	rc = cached(st, &st->mapping_put,
	            "INSERT OR REPLACE INTO mappings(origin, peer, source, owner, description, proto, "
	            "host_ip, host_port, connect) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (rc != SQLITE_OK)
		return mapping_fail(st, rc, "storing a mapping");
	s = st->mapping_put;
	sqlite3_bind_int(s, 1, m->origin);
	sqlite3_bind_text(s, 2, m->peer ? m->peer : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, m->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, m->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, m->description ? m->description : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, m->proto);
	sqlite3_bind_text(s, 7, m->host_ip, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 8, m->host_port);
	sqlite3_bind_text(s, 9, m->connect, -1, SQLITE_STATIC);
	rc = step_and_reset(s);
	return rc == SQLITE_DONE ? 0 : mapping_fail(st, rc, "storing a mapping");
}

int store_mapping_delete(struct store *st, const struct store_mapping *m)
{
	sqlite3_stmt *s;
	int rc;

	rc = cached(st, &st->mapping_delete,
	            "DELETE FROM mappings WHERE origin = ? AND source = ? AND owner = ? AND proto = ? "
	            "AND host_ip = ? AND host_port = ?");
	if (rc != SQLITE_OK)
		return mapping_fail(st, rc, "removing a mapping");
	s = st->mapping_delete;
	sqlite3_bind_int(s, 1, m->origin);
	sqlite3_bind_text(s, 2, m->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, m->owner, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, m->proto);
	sqlite3_bind_text(s, 5, m->host_ip, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, m->host_port);
	rc = step_and_reset(s);
	return rc == SQLITE_DONE ? 0 : mapping_fail(st, rc, "removing a mapping");
}

int store_mapping_foreach(struct store *st, int origin, int (*fn)(void *arg, const struct store_mapping *m), void *arg)
{
	sqlite3_stmt *s;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(st->db,
	                        "SELECT peer, source, owner, description, proto, host_ip, host_port, connect "
	                        "FROM mappings WHERE origin = ? ORDER BY rowid",
	                        -1, &s, NULL);
	if (rc != SQLITE_OK)
		return mapping_fail(st, rc, "listing mappings");
	sqlite3_bind_int(s, 1, origin);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_mapping m = {
			.origin = origin,
			.peer = (const char *)sqlite3_column_text(s, 0),
			.source = (const char *)sqlite3_column_text(s, 1),
			.owner = (const char *)sqlite3_column_text(s, 2),
			.description = (const char *)sqlite3_column_text(s, 3),
			.proto = sqlite3_column_int(s, 4),
			.host_ip = (const char *)sqlite3_column_text(s, 5),
			.host_port = sqlite3_column_int(s, 6),
			.connect = (const char *)sqlite3_column_text(s, 7),
		};
		if (!m.source || !m.owner || !m.host_ip || !m.connect)
			continue;
		if ((ret = fn(arg, &m)))
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = mapping_fail(st, rc, "listing mappings");
	sqlite3_finalize(s);
	return ret;
}

int store_sync_get(struct store *st, const char *peer, char *epoch, size_t epochlen, uint64_t *generation)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "SELECT epoch, generation FROM mapping_sync WHERE peer = ?", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return mapping_fail(st, rc, "reading the mapping sync state");
	sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(epoch, epochlen, "%s", (const char *)sqlite3_column_text(s, 0));
		*generation = (uint64_t)sqlite3_column_int64(s, 1);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : mapping_fail(st, rc, "reading the mapping sync state");
	}
	sqlite3_finalize(s);
	return rc;
}

int store_sync_put(struct store *st, const char *peer, const char *epoch, uint64_t generation)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO mapping_sync(peer, epoch, generation) VALUES (?, ?, ?)",
	                        -1, &s, NULL);
	if (rc != SQLITE_OK)
		return mapping_fail(st, rc, "storing the mapping sync state");
	sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, epoch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)generation);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : mapping_fail(st, rc, "storing the mapping sync state");
}

int store_mapping_delete_peer(struct store *st, const char *peer)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "DELETE FROM mappings WHERE origin = 1 AND peer = ?", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return mapping_fail(st, rc, "removing a peer's mappings");
	sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : mapping_fail(st, rc, "removing a peer's mappings");
}
