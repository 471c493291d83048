/* link_auth.c - shared secret file and HMAC proofs for the link handshake. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "broker/errfmt.h"
#include "broker/link_auth.h"

int link_auth_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void link_auth_nonce(uint8_t *buf, size_t len)
{
	randombytes_buf(buf, len);
}

static void compute(const uint8_t *secret, size_t secret_len, bool dialer, const uint8_t challenge[32],
                    const uint8_t nonce[32], const char *id, uint8_t out[LINK_PROOF_SIZE])
{
	static const char label[] = "broker-link-v1";
	crypto_auth_hmacsha256_state st;
	uint8_t role = dialer ? 'D' : 'A';

	crypto_auth_hmacsha256_init(&st, secret, secret_len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, sizeof(label) - 1);
	crypto_auth_hmacsha256_update(&st, &role, 1);
	crypto_auth_hmacsha256_update(&st, challenge, 32);
	crypto_auth_hmacsha256_update(&st, nonce, 32);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, strlen(id));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void link_auth_proof(const uint8_t *secret, size_t secret_len, bool prover_is_dialer, const uint8_t challenge[32],
                     const uint8_t own_nonce[32], const char *prover_id, uint8_t proof[LINK_PROOF_SIZE])
{
	compute(secret, secret_len, prover_is_dialer, challenge, own_nonce, prover_id, proof);
}

bool link_auth_verify(const uint8_t *secret, size_t secret_len, bool prover_is_dialer, const uint8_t challenge[32],
                      const uint8_t prover_nonce[32], const char *prover_id, const uint8_t *proof, size_t len)
{
	uint8_t want[LINK_PROOF_SIZE];
	bool ok;

	if (len != LINK_PROOF_SIZE)
		return false;
	compute(secret, secret_len, prover_is_dialer, challenge, prover_nonce, prover_id, want);
	ok = sodium_memcmp(want, proof, LINK_PROOF_SIZE) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

static int create_secret(const char *path, char *err, size_t errlen)
{
	uint8_t raw[32];
	char hex[2 * sizeof(raw) + 2];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return errfmt(err, errlen, -errno, "%s: cannot create: %s", path, strerror(errno));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	strcat(hex, "\n");
	sodium_memzero(raw, sizeof(raw));
	if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || fsync(fd) < 0) {
		int e = errno ? errno : EIO;
		close(fd);
		unlink(path);
		return errfmt(err, errlen, -e, "%s: cannot write: %s", path, strerror(e));
	}
	close(fd);
	sodium_memzero(hex, sizeof(hex));
	return 0;
}

int link_secret_load(const char *path, bool create, uint8_t **secret, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	uint8_t buf[LINK_SECRET_MAX + 1];
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if ((rc = create_secret(path, err, errlen)) < 0)
			return rc;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return errfmt(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errfmt(err, errlen, -EINVAL, "%s: not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return errfmt(err, errlen, -EACCES, "%s: readable by others (mode %03o); run chmod 600 %s", path,
		              (unsigned)(st.st_mode & 0777), path);
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return errfmt(err, errlen, -errno, "%s: %s", path, strerror(errno));
	/* Trailing newlines are not part of the secret (editors add them). */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n < LINK_SECRET_MIN || n > LINK_SECRET_MAX) {
		sodium_memzero(buf, sizeof(buf));
		return errfmt(err, errlen, -EINVAL, "%s: secret must be %d..%d bytes (it has %zd)", path,
		              LINK_SECRET_MIN, LINK_SECRET_MAX, n);
	}
	*secret = malloc((size_t)n);
	if (!*secret)
		return errfmt(err, errlen, -ENOMEM, "out of memory");
	memcpy(*secret, buf, (size_t)n);
	*len = (size_t)n;
	sodium_memzero(buf, sizeof(buf));
	return 0;
}
