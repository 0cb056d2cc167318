/* A self-signed certificate for first start and development, so the server can always offer
 * HTTPS/WSS (browsers only grant camera and microphone to secure origins). Operators replace
 * the files with a real certificate; we never overwrite an existing pair. */
#include "base/log.h"
#include "signal/server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TLS_VALID_DAYS 825

/* Creates every missing directory above path (like mkdir -p on its dirname). New directories
 * are private to the owner because one of them usually holds the private key. */
static int tls_make_parent(const char *path)
{
	char dir[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(dir))
		return -1;
	memcpy(dir, path, len + 1);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int tls_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int tls_set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int rc = -1;

	/* A random positive 127-bit serial: unique enough that browsers never see two
	 * different certificates with the same issuer and serial. */
	if (bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		rc = 0;
	BN_free(bn);
	return rc;
}

static X509 *tls_make_cert(EVP_PKEY *pkey)
{
	X509 *x = X509_new();
	if (!x)
		return NULL;

	X509_NAME *name = X509_get_subject_name(x);
	int ok = X509_set_version(x, 2) && tls_set_serial(x) == 0 &&
	         X509_gmtime_adj(X509_getm_notBefore(x), -60 * 60) &&
	         X509_time_adj_ex(X509_getm_notAfter(x), TLS_VALID_DAYS, 0, NULL) &&
	         X509_set_pubkey(x, pkey) &&
	         X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                                    (const unsigned char *)"Madoguchi", -1, -1, 0) &&
	         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                    (const unsigned char *)"localhost", -1, -1, 0) &&
	         X509_set_issuer_name(x, name);
	ok = ok && tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
	     tls_add_ext(x, NID_key_usage, "critical,digitalSignature") == 0 &&
	     tls_add_ext(x, NID_ext_key_usage, "serverAuth") == 0 &&
	     tls_add_ext(x, NID_subject_key_identifier, "hash") == 0 &&
	     tls_add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") == 0;
	if (!ok || X509_sign(x, pkey, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Writes to "<path>.tmp" and renames, so a crash never leaves a half-written file that the
 * next start would take for an existing certificate. */
static int tls_write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *cert)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	(void)fchmod(fd, mode); /* the umask may have removed bits; never adds any */
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	int ok = pkey ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)
	              : PEM_write_X509(f, cert);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int sig_tls_ensure_selfsigned(const char *cert_path, const char *key_path)
{
	if (!cert_path || !key_path || !*cert_path || !*key_path)
		return -1;
	if (access(cert_path, F_OK) == 0 && access(key_path, F_OK) == 0)
		return 0;
	if (tls_make_parent(cert_path) != 0 || tls_make_parent(key_path) != 0) {
		LOG_ERROR("http", "cannot create certificate directory path=%s errno=%d", cert_path,
		          errno);
		return -1;
	}

	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *cert = pkey ? tls_make_cert(pkey) : NULL;
	int rc = -1;
	if (cert && tls_write_pem(key_path, 0600, pkey, NULL) == 0 &&
	    tls_write_pem(cert_path, 0644, NULL, cert) == 0)
		rc = 0;
	if (rc == 0)
		LOG_INFO("http", "created self-signed certificate cert=%s key=%s days=%d",
		         cert_path, key_path, TLS_VALID_DAYS);
	else
		LOG_ERROR("http", "cannot create self-signed certificate cert=%s key=%s", cert_path,
		          key_path);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	return rc;
}
