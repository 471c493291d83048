/* test_store.c - sqlite store: create, migrate, routes, kv, and the startup refusals. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "broker/log.h"
#include "broker/platform.h"
#include "broker/store.h"
#include "tests/unit/tap.h"
#include "tests/unit/test_platform.h"

static char *tmpdir;

static char *pathf(const char *rel)
{
	/* Rotating buffers so a test can hold several paths at once (at most 16). */
	static char buf[16][512];
	static int i;

	i = (i + 1) % 16;
	snprintf(buf[i], sizeof(buf[i]), "%s" PLATFORM_DIR_SEP "%s", tmpdir, rel);
	return buf[i];
}

/* FNV-1a of a whole file, to prove the store left a file untouched. */
static uint64_t file_hash(const char *p, long long *size)
{
	uint64_t h = 1469598103934665603ull;
	unsigned char buf[4096];
	size_t n;
	FILE *f = fopen(p, "rb");

	*size = 0;
	if (!f)
		return 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (size_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
		*size += (long long)n;
	}
	fclose(f);
	return h;
}

static int raw_exec(const char *db, const char *sql)
{
	sqlite3 *h;
	int rc = sqlite3_open(db, &h);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
	sqlite3_close(h);
	return rc;
}

static int raw_user_version(const char *db)
{
	sqlite3 *h;
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_open(db, &h) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(h);
	return v;
}

struct names {
	char buf[256];
	int n;
};

static int collect(void *arg, const struct store_route *r)
{
	struct names *nm = arg;

	strncat(nm->buf, r->name, sizeof(nm->buf) - strlen(nm->buf) - 2);
	strcat(nm->buf, ",");
	nm->n++;
	if (strcmp(r->name, "a") == 0)
		ok(strcmp(r->listen, "unix:///a") == 0 && strcmp(r->connect, "tcp://127.0.0.1:1") == 0 &&
		           r->max_connections == 5 && r->created > 0,
		   "route a fields read back");
	return 0;
}

static int stop_at_first(void *arg, const struct store_route *r)
{
	(void)r;
	++*(int *)arg;
	return 42;
}

static void test_create_routes_kv(void)
{
	struct store *st;
	char err[512];
	const char *db = pathf("deep/state/broker.db");

	is_int(store_open(db, &st, err, sizeof(err)), 0, "open creates missing directories and the db");
	if (tp_skip_file_modes())
		skip(1, tp_skip_file_modes());
	else
		is_int(tp_file_mode(pathf("deep/state")), 0700, "state dir created 0700");
	is_int(store_schema_version(st), STORE_SCHEMA_VERSION, "schema at current version");

	struct store_route a = { "a", "unix:///a", "tcp://127.0.0.1:1", 5, 0 };
	struct store_route b = { "b", "unix:///b", "unix:///c", 0, 0 };
	is_int(store_route_insert(st, &b, err, sizeof(err)), 0, "insert b");
	is_int(store_route_insert(st, &a, err, sizeof(err)), 0, "insert a");
	is_int(store_route_insert(st, &a, err, sizeof(err)), -EEXIST, "duplicate name is -EEXIST");
	like(err, "'a' already exists", "duplicate named in the reason");

	struct names nm = { "", 0 };
	is_int(store_route_foreach(st, collect, &nm), 0, "foreach returns 0");
	is_str(nm.buf, "a,b,", "routes listed in name order");
	int calls = 0;
	is_int(store_route_foreach(st, stop_at_first, &calls), 42, "callback's non-zero return stops and is returned");
	is_int(calls, 1, "stopped after the first");

	is_int(store_route_delete(st, "a", err, sizeof(err)), 0, "delete a");
	is_int(store_route_delete(st, "a", err, sizeof(err)), -ENOENT, "delete absent is -ENOENT");
	like(err, "'a'", "absent name in the reason");

	void *v;
	size_t len;
	is_int(store_kv_get(st, "docker", "k", &v, &len), -ENOENT, "kv get absent is -ENOENT");
	is_int(store_kv_set(st, "docker", "k", "hello", 5), 0, "kv set");
	is_int(store_kv_get(st, "docker", "k", &v, &len), 0, "kv get");
	ok(len == 5 && memcmp(v, "hello", 5) == 0, "kv value read back");
	free(v);
	is_int(store_kv_set(st, "docker", "k", "\0bin\xff", 5), 0, "kv overwrite with binary");
	is_int(store_kv_get(st, "docker", "k", &v, &len), 0, "kv get after overwrite");
	ok(len == 5 && memcmp(v, "\0bin\xff", 5) == 0, "binary value read back");
	free(v);
	is_int(store_kv_get(st, "other", "k", &v, &len), -ENOENT, "kv keys are per plugin");
	is_int(store_kv_set(st, "docker", "empty", "", 0), 0, "kv set empty value");
	is_int(store_kv_get(st, "docker", "empty", &v, &len), 0, "kv get empty value");
	is_int(len, 0, "empty value has length 0");
	free(v);
	is_int(store_kv_delete(st, "docker", "empty"), 0, "kv delete");
	is_int(store_kv_delete(st, "docker", "empty"), -ENOENT, "kv delete absent is -ENOENT");
	store_close(st);

	/* The way brokerd names it: STATE_DIR + this OS's separator (Windows: '\\') + broker.db. */
	{
		char *joined = platform_path_join(pathf("sep/state"), "broker.db");
		struct store *st2 = NULL;
		int rc = store_open(joined, &st2, err, sizeof(err));
		is_int(rc, 0, "open creates the dirs of STATE" PLATFORM_DIR_SEP "broker.db %s", rc ? err : "");
		store_close(st2);
		free(joined);
	}

	is_int(store_open(db, &st, err, sizeof(err)), 0, "reopen");
	memset(&nm, 0, sizeof(nm));
	store_route_foreach(st, collect, &nm);
	is_str(nm.buf, "b,", "routes persist across reopen");
	is_int(store_kv_get(st, "docker", "k", &v, &len), 0, "kv persists across reopen");
	free(v);
	store_close(st);
}

static void test_migrate_from_zero(void)
{
	struct store *st;
	char err[512];
	const char *db = pathf("v0.db");

	/* A version-0 database: valid sqlite, no tables of ours, user_version 0. */
	is_int(raw_exec(db, "CREATE TABLE unrelated(x); PRAGMA user_version = 0;"), SQLITE_OK, "made a v0 db");
	is_int(store_open(db, &st, err, sizeof(err)), 0, "open migrates a v0 db");
	is_int(store_schema_version(st), STORE_SCHEMA_VERSION, "migrated to current version");
	struct store_route r = { "x", "unix:///x", "unix:///y", 0, 0 };
	is_int(store_route_insert(st, &r, err, sizeof(err)), 0, "routes table usable after migration");
	store_close(st);
	is_int(raw_exec(db, "SELECT x FROM unrelated"), SQLITE_OK, "existing tables kept");
}

static void test_locked(void)
{
	struct store *st = NULL;
	char err[512];
	const char *db = pathf("locked.db");
	sqlite3 *other;

	is_int(store_open(db, &st, err, sizeof(err)), 0, "create db for the lock test");
	/* A second broker on the same state dir, while the first is idle. */
	struct store *second = NULL;
	is_int(store_open(db, &second, err, sizeof(err)), -EBUSY, "second open while the first is open is -EBUSY");
	like(err, "is another brokerd running with this state dir?", "second opener told why");
	ok(second == NULL, "no second store handed out");
	sqlite3 *reader;
	ok(sqlite3_open(db, &reader) == SQLITE_OK &&
	           sqlite3_exec(reader, "SELECT count(*) FROM routes", NULL, NULL, NULL) == SQLITE_OK,
	   "other tools can still read while the store is open");
	sqlite3_close(reader);
	store_close(st);
	st = NULL;
	ok(sqlite3_open(db, &other) == SQLITE_OK && sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK,
	   "another connection holds a write transaction");
	is_int(store_open(db, &st, err, sizeof(err)), -EBUSY, "open while locked is -EBUSY");
	like(err, "database is locked by another process", "lock reason given");
	like(err, db, "lock reason names the file");
	ok(st == NULL, "no store handed out");
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	is_int(store_open(db, &st, err, sizeof(err)), 0, "open works once the lock is gone");
	store_close(st);
}

/*
 * Permission checks mean nothing to root (it may write any file), so when
 * we are root the read-only cases run in a child that dropped to nobody
 * (tp_run_as; on POSIX always a child, so the open leaves nothing behind
 * in this process).  The result code and reason come back as a struct,
 * because TAP counting lives in this process.
 */
struct ro_result {
	int rc;
	char err[512];
};

static void open_in_child(void *arg, void *out, size_t len)
{
	struct ro_result *r = out;
	struct store *st = NULL;

	(void)len;
	r->rc = store_open(arg, &st, r->err, sizeof(r->err));
	store_close(st);
}

static int run_open(const char *db, long as, long gid, struct ro_result *res)
{
	return tp_run_as(as, gid, open_in_child, (void *)db, res, sizeof(*res));
}

static void test_read_only(void)
{
	struct store *st;
	char err[512];
	const char *dir = pathf("ro");
	const char *db = pathf("ro/broker.db");
	const char *dir2 = pathf("rodir");
	const char *db2 = pathf("rodir/broker.db");
	long uid = -1, gid = -1;
	struct ro_result res;

	platform_mkdir(dir, 0700);
	platform_mkdir(dir2, 0700);
	is_int(store_open(db, &st, err, sizeof(err)), 0, "create db for the read-only test");
	store_close(st);

	if (tp_is_root()) {
		if (tp_nobody(&uid, &gid) < 0) {
			skip(4, "running as root and there is no user 'nobody' to drop to");
			return;
		}
		/* The child needs to reach the files as nobody. */
		tp_chmod(tmpdir, 0711);
		if (tp_chown(dir, uid, gid) < 0 || tp_chown(db, uid, gid) < 0 || tp_chown(dir2, uid, gid) < 0) {
			skip(4, "cannot chown test files to nobody");
			return;
		}
		remove(pathf("ro/broker.db-wal"));
		remove(pathf("ro/broker.db-shm"));
	}

	/* Windows: the read-only attribute, which brokerd checks the same way. */
	tp_chmod(db, 0400);
	ok(run_open(db, uid, gid, &res) == 0, "store_open ran on a read-only file");
	is_int(res.rc, -EROFS, "read-only file is -EROFS");
	like(res.err, "read-only", "read-only reason given");
	tp_chmod(db, 0600);

	if (tp_skip_readonly_dir()) {
		skip(1, tp_skip_readonly_dir());
	} else {
		tp_chmod(dir2, 0500);
		run_open(db2, uid, gid, &res);
		is_int(res.rc, -EROFS, "new db in a read-only directory is -EROFS");
		tp_chmod(dir2, 0700);
	}
	tp_chmod(tmpdir, 0700);
}

static void test_garbage(void)
{
	struct store *st = NULL;
	char err[512];
	const char *db = pathf("garbage.db");
	unsigned char junk[8192];
	uint64_t h1, h2;
	long long s1, s2;
	FILE *f;

	srand(12345);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)rand();
	f = fopen(db, "wb");
	ok(f && fwrite(junk, 1, sizeof(junk), f) == sizeof(junk), "wrote a garbage file");
	if (f)
		fclose(f);
	h1 = file_hash(db, &s1);

	is_int(store_open(db, &st, err, sizeof(err)), -EINVAL, "garbage file is refused at open");
	like(err, "file is not a database (corrupt?)", "corrupt reason given");
	like(err, "move it aside", "corrupt fix given");
	ok(st == NULL, "no store handed out for garbage");
	h2 = file_hash(db, &s2);
	ok(h1 == h2 && s1 == s2, "garbage file left untouched");
}

static void test_newer(void)
{
	struct store *st = NULL;
	char err[512];
	const char *db = pathf("newer.db");

	is_int(raw_exec(db, "CREATE TABLE future(x); PRAGMA user_version = 99;"), SQLITE_OK, "made a v99 db");
	is_int(store_open(db, &st, err, sizeof(err)), -EPROTO, "newer schema refused");
	char want[96];
	snprintf(want, sizeof(want), "written by a newer broker (schema 99 > %d)", STORE_SCHEMA_VERSION);
	like(err, want, "newer reason gives both versions");
	ok(st == NULL, "no store handed out for a newer db");
	is_int(raw_user_version(db), 99, "newer db not touched (still version 99)");
}

int main(void)
{
	plan(64);
	/* The store logs its migrations; keep the TAP stream readable. */
	log_configure(BROKER_LOG_WARN, LOG_FORMAT_TEXT);
	tmpdir = tp_mkdtemp("broker-test-store");
	if (!tmpdir) {
		perror("mkdtemp");
		return 99;
	}
	test_create_routes_kv();
	test_migrate_from_zero();
	test_locked();
	test_read_only();
	test_garbage();
	test_newer();
	tp_rm_rf(tmpdir);
	free(tmpdir);
	return done_testing();
}
