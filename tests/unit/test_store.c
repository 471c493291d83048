/* test_store.c - sqlite store: create, migrate, routes, kv, and the startup refusals. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>

#include "broker/log.h"
#include "broker/store.h"
#include "tests/unit/tap.h"

static char tmpdir[] = "/tmp/broker-test-store-XXXXXX";

static char *pathf(const char *rel)
{
	/* Rotating buffers so a test can hold several paths at once (at most 16). */
	static char buf[16][512];
	static int i;

	i = (i + 1) % 16;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, rel);
	return buf[i];
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	chmod(p, 0700);
	return remove(p);
}

static void cleanup(void)
{
	/* Make read-only leftovers deletable first (depth-first walk removes children before parents). */
	chmod(tmpdir, 0700);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* FNV-1a of a whole file, to prove the store left a file untouched. */
static uint64_t file_hash(const char *p, off_t *size)
{
	uint64_t h = 1469598103934665603ull;
	unsigned char buf[4096];
	ssize_t n;
	int fd = open(p, O_RDONLY);

	*size = 0;
	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
		*size += n;
	}
	close(fd);
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
	struct stat sb;
	const char *db = pathf("deep/state/broker.db");

	is_int(store_open(db, &st, err, sizeof(err)), 0, "open creates missing directories and the db");
	ok(stat(pathf("deep/state"), &sb) == 0 && (sb.st_mode & 0777) == 0700, "state dir created 0700");
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
 * we are root the read-only cases run in a child that dropped to nobody.
 * The child reports the result code and reason through a pipe, because
 * TAP counting lives in this process.
 */
struct ro_result {
	int rc;
	char err[512];
};

static int run_open(const char *db, uid_t as, gid_t gid, struct ro_result *res)
{
	int p[2];
	pid_t pid;
	int status;

	memset(res, 0, sizeof(*res));
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct ro_result r = { 0 };
		struct store *st = NULL;
		close(p[0]);
		if (as != (uid_t)-1 && (setgid(gid) < 0 || setuid(as) < 0))
			_exit(3);
		r.rc = store_open(db, &st, r.err, sizeof(r.err));
		store_close(st);
		if (write(p[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	ssize_t n = read(p[0], res, sizeof(*res));
	close(p[0]);
	waitpid(pid, &status, 0);
	return n == (ssize_t)sizeof(*res) ? 0 : -1;
}

static void test_read_only(void)
{
	struct store *st;
	char err[512];
	const char *dir = pathf("ro");
	const char *db = pathf("ro/broker.db");
	const char *dir2 = pathf("rodir");
	const char *db2 = pathf("rodir/broker.db");
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	struct ro_result res;

	mkdir(dir, 0700);
	mkdir(dir2, 0700);
	is_int(store_open(db, &st, err, sizeof(err)), 0, "create db for the read-only test");
	store_close(st);

	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");
		if (!pw) {
			skip(4, "running as root and there is no user 'nobody' to drop to");
			return;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		/* The child needs to reach the files as nobody. */
		chmod(tmpdir, 0711);
		if (chown(dir, uid, gid) < 0 || chown(db, uid, gid) < 0 || chown(dir2, uid, gid) < 0) {
			skip(4, "cannot chown test files to nobody");
			return;
		}
		unlink(pathf("ro/broker.db-wal"));
		unlink(pathf("ro/broker.db-shm"));
	}

	chmod(db, 0400);
	ok(run_open(db, uid, gid, &res) == 0, "child ran store_open on a read-only file");
	is_int(res.rc, -EROFS, "read-only file is -EROFS");
	like(res.err, "read-only", "read-only reason given");

	chmod(dir2, 0500);
	run_open(db2, uid, gid, &res);
	is_int(res.rc, -EROFS, "new db in a read-only directory is -EROFS");
	chmod(dir2, 0700);
	chmod(tmpdir, 0700);
}

static void test_garbage(void)
{
	struct store *st = NULL;
	char err[512];
	const char *db = pathf("garbage.db");
	unsigned char junk[8192];
	uint64_t h1, h2;
	off_t s1, s2;
	int fd;

	srand(12345);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)rand();
	fd = open(db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk), "wrote a garbage file");
	close(fd);
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
	/* The store logs its migrations; keep the TAP stream readable. */
	log_configure(BROKER_LOG_WARN, LOG_FORMAT_TEXT);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	test_create_routes_kv();
	test_migrate_from_zero();
	test_locked();
	test_read_only();
	test_garbage();
	test_newer();
	cleanup();
	return done_testing();
}
