/*
 * plugins/kubernetes/kube_tls.c - the kubeconfig's TLS material for the
 * kubernetes watcher (see kube.h).
 *
 * libcurl does the handshake (TLS >= 1.2, the server checked against the
 * CA bundle from memory, or the system's when the kubeconfig has none, and
 * against the URL's host or tls-server-name; a client certificate and key
 * from memory).  What is left here: checking the PEM blobs when the
 * kubeconfig is loaded, so a bad one is reported then with what is wrong
 * instead of as a failed handshake, handing them to libcurl, and wording a
 * server that is not trusted.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "plugins/kubernetes/kube.h"

static void ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "not a PEM certificate");
	ERR_clear_error();
}

/* How many PEM certificates the bundle holds. */
static int count_certs(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x;
	int n = 0;

	while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(b);
	return n;
}

/* The client certificate (the first of its PEM) and its key parse and belong together. */
static int check_client(const struct kubeconfig *kc, char *err, size_t errlen)
{
	char why[256];
	BIO *b = BIO_new_mem_buf(kc->cert_pem, (int)kc->cert_len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pk = NULL;
	int r = -EINVAL;

	BIO_free(b);
	if (!x) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "client certificate: %s", why);
		return -EINVAL;
	}
	b = BIO_new_mem_buf(kc->key_pem, (int)kc->key_len);
	pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!pk || X509_check_private_key(x, pk) != 1) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "client key: %s", pk ? "does not match the client certificate" : why);
	} else {
		r = 0;
	}
	EVP_PKEY_free(pk);
	X509_free(x);
	ERR_clear_error();
	return r;
}

int kube_tls_check(const struct kubeconfig *kc, char *err, size_t errlen)
{
	if (!kc->https)
		return 0;
	if (!kc->insecure_skip_verify && kc->ca_pem && count_certs(kc->ca_pem, kc->ca_len) == 0) {
		snprintf(err, errlen, "certificate authority: no PEM certificate in it");
		return -EINVAL;
	}
	if (kc->cert_pem && check_client(kc, err, errlen) < 0)
		return -EINVAL;
	return 0;
}

void kube_tls_opts(const struct kube_state *st, struct curlev_opts *o)
{
	const struct kubeconfig *kc = &st->kc;

	o->insecure = kc->insecure_skip_verify;
	if (!kc->insecure_skip_verify && kc->ca_pem) {
		o->ca_pem = kc->ca_pem;
		o->ca_len = kc->ca_len;
	}
	if (kc->cert_pem) {
		o->cert_pem = kc->cert_pem;
		o->cert_len = kc->cert_len;
		o->key_pem = kc->key_pem;
		o->key_len = kc->key_len;
	}
	if (st->connect_to[0])
		o->connect_to = st->connect_to;
}

void kube_tls_untrusted(const char *reason, char *buf, size_t len)
{
	static const char prefix[] = "SSL certificate problem: ";

	if (strncmp(reason, prefix, sizeof(prefix) - 1) == 0)
		reason += sizeof(prefix) - 1;
	snprintf(buf, len, "server certificate not trusted: %s (check certificate-authority-data in the "
	         "kubeconfig)", reason);
}
