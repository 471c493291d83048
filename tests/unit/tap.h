/* tap.h - tiny TAP (Test Anything Protocol) helpers for standalone unit tests.
 *
 * Header-only so each test program is a single .c file.  Output goes to
 * stdout and is judged line by line by automake's TAP driver (tests/tap-run
 * around tap-driver.sh): every ok()/is_*()/like() is one result.
 *
 * Every test declares how many results it gives with plan(N) before the
 * first one; a run that gives fewer or more fails (a crash or an early
 * return cannot pass).  A check that cannot run here is skip(n, why)ed so
 * the count still holds, and passes only when tests/expected-skips lists
 * the test with that reason; skip_all(why) skips the whole program the same
 * way.  done_testing()'s value is main's: 0, or 1 on a failure or a miscount.
 */
#ifndef BROKER_TESTS_TAP_H
#define BROKER_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#ifdef _WIN32
#include <winsock2.h>
#endif

/* Tests that open sockets call this first: Windows needs winsock started
 * once per process (brokerd does it in platform_event_threads). */
static inline void tap_init_sockets(void)
{
#ifdef _WIN32
	WSADATA wsa;

	WSAStartup(MAKEWORD(2, 2), &wsa);
#endif
}

struct tap_state {
	int planned;
	int run;
	int failed;
	int skipped;
};

/* One test program, one state: a file-local static is the simplest owner. */
static struct tap_state tap_st;

static inline void plan(int n)
{
	tap_st.planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline int tap_vok(int cond, const char *file, int line, const char *fmt, va_list ap)
{
	tap_st.run++;
	if (!cond)
		tap_st.failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_st.run);
	vprintf(fmt, ap);
	putchar('\n');
	if (!cond)
		printf("#   Failed at %s line %d\n", file, line);
	fflush(stdout);
	return cond;
}

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(cond, file, line, fmt, ap);
	va_end(ap);
	return r;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...)                                                          \
	({                                                                                  \
		long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);                \
		int tap_r_ = tap_ok(tap_g_ == tap_w_, __FILE__, __LINE__, __VA_ARGS__);       \
		if (!tap_r_)                                                                    \
			printf("#          got: %lld\n#     expected: %lld\n", tap_g_, tap_w_);     \
		tap_r_;                                                                         \
	})

#define is_str(got, want, ...)                                                          \
	({                                                                                  \
		const char *tap_g_ = (got), *tap_w_ = (want);                                   \
		int tap_r_ = tap_ok(tap_g_ && tap_w_ ? strcmp(tap_g_, tap_w_) == 0 : tap_g_ == tap_w_, \
		                    __FILE__, __LINE__, __VA_ARGS__);                           \
		if (!tap_r_)                                                                    \
			printf("#          got: '%s'\n#     expected: '%s'\n", tap_g_ ? tap_g_ : "(null)", \
			       tap_w_ ? tap_w_ : "(null)");                                         \
		tap_r_;                                                                         \
	})

/* Passes when haystack contains needle: error messages are checked by their key words. */
#define like(got, needle, ...)                                                          \
	({                                                                                  \
		const char *tap_g_ = (got), *tap_n_ = (needle);                                 \
		int tap_r_ = tap_ok(tap_g_ && strstr(tap_g_, tap_n_) != NULL, __FILE__, __LINE__, \
		                    __VA_ARGS__);                                               \
		if (!tap_r_)                                                                    \
			printf("#          got: '%s'\n#  to contain: '%s'\n", tap_g_ ? tap_g_ : "(null)", \
			       tap_n_);                                                             \
		tap_r_;                                                                         \
	})

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Record n skipped tests with a reason. */
static inline void skip(int n, const char *why)
{
	for (int i = 0; i < n; i++) {
		tap_st.run++;
		tap_st.skipped++;
		printf("ok %d # skip %s\n", tap_st.run, why);
	}
	fflush(stdout);
}

/* The whole program cannot run here: "1..0 # SKIP why" instead of a plan
 * (before any result).  Return its value from main. */
static inline int skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	fflush(stdout);
	return 0;
}

static inline int done_testing(void)
{
	if (!tap_st.planned) {
		/* No trailing plan: the driver reports the missing plan too. */
		printf("# no plan(N) before the first result (%d results)\n", tap_st.run);
		return 1;
	}
	if (tap_st.planned != tap_st.run) {
		printf("# planned %d tests but ran %d\n", tap_st.planned, tap_st.run);
		return 1;
	}
	if (tap_st.failed) {
		printf("# failed %d of %d tests\n", tap_st.failed, tap_st.run);
		return 1;
	}
	return 0;
}

#endif
