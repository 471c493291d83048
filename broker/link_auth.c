/* link_auth.c - shared secret file and HMAC proofs for the link handshake. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "broker/errfmt.h"
#include "broker/link_auth.h"
#include "broker/platform.h"

int link_auth_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void link_auth_nonce(uint8_t *buf, size_t len)
{
	randombytes_buf(buf, len);
}

/* HMAC-SHA256(secret, "broker-link-v3 proof" | role | th): see link_auth.h. */
static void compute(const uint8_t *secret, size_t secret_len, bool dialer, const uint8_t th[32],
                    uint8_t out[LINK_PROOF_SIZE])
{
	static const char label[] = "broker-link-v3 proof";
	crypto_auth_hmacsha256_state st;
	uint8_t role = dialer ? 'D' : 'A';

	crypto_auth_hmacsha256_init(&st, secret, secret_len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_auth_hmacsha256_update(&st, &role, 1);
	crypto_auth_hmacsha256_update(&st, th, 32);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void link_auth_proof(const uint8_t *secret, size_t secret_len, bool prover_is_dialer, const uint8_t th[32],
                     uint8_t proof[LINK_PROOF_SIZE])
{
	compute(secret, secret_len, prover_is_dialer, th, proof);
}

bool link_auth_verify(const uint8_t *secret, size_t secret_len, bool prover_is_dialer, const uint8_t th[32],
                      const uint8_t *proof, size_t len)
{
	uint8_t want[LINK_PROOF_SIZE];
	bool ok;

	if (len != LINK_PROOF_SIZE)
		return false;
	compute(secret, secret_len, prover_is_dialer, th, want);
	ok = sodium_memcmp(want, proof, LINK_PROOF_SIZE) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

static int create_secret(const char *path, char *err, size_t errlen)
{
	uint8_t raw[32];
	char hex[2 * sizeof(raw) + 2];
	int rc;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	strcat(hex, "\n");
	sodium_memzero(raw, sizeof(raw));
	/* 0600 on POSIX; on Windows a DACL for the current user (see platform_win32.c). */
	rc = platform_private_file_create(path, hex, strlen(hex), err, errlen);
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

/* Read the file, refuse a bad one with the reason; *n: the secret's length without trailing newlines. */
static int secret_read(const char *path, uint8_t *buf, size_t cap, size_t *n, char *err, size_t errlen)
{
	int rc = platform_private_file_read(path, buf, cap, n, err, errlen);

	if (rc < 0)
		return rc;
	/* Trailing newlines are not part of the secret (editors add them). */
	while (*n > 0 && (buf[*n - 1] == '\n' || buf[*n - 1] == '\r'))
		(*n)--;
	if (*n < LINK_SECRET_MIN || *n > LINK_SECRET_MAX)
		return errfmt(err, errlen, -EINVAL, "%s: secret must be %d..%d bytes (it has %zu)", path, LINK_SECRET_MIN,
		              LINK_SECRET_MAX, *n);
	return 0;
}

int link_secret_load(const char *path, bool create, uint8_t **secret, size_t *len, char *err, size_t errlen)
{
	uint8_t buf[LINK_SECRET_MAX + 1];
	size_t n = 0;
	int rc;

	rc = secret_read(path, buf, sizeof(buf), &n, err, errlen);
	if (rc == -ENOENT && create) {
		if ((rc = create_secret(path, err, errlen)) < 0)
			return rc;
		rc = secret_read(path, buf, sizeof(buf), &n, err, errlen);
	}
	if (rc < 0) {
		sodium_memzero(buf, sizeof(buf));
		return rc;
	}
	*secret = malloc(n);
	if (!*secret) {
		sodium_memzero(buf, sizeof(buf));
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	}
	memcpy(*secret, buf, n);
	*len = n;
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

int link_secret_check(const char *path, char *err, size_t errlen)
{
	uint8_t buf[LINK_SECRET_MAX + 1];
	size_t n = 0;
	int rc = secret_read(path, buf, sizeof(buf), &n, err, errlen);

	sodium_memzero(buf, sizeof(buf));
	/* Absent is fine: the broker creates it at start. */
	return rc == -ENOENT ? 0 : rc;
}
