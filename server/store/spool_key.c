/* The spool's encryption: its key file, and AES-256-GCM over one record at a time.
 *
 * The key is 32 random bytes kept as 64 hex digits and a newline in a file of its own, mode
 * 0600, created on first use. A key file that others may read is refused rather than used:
 * the point of the key is that the spool alone tells nothing, so a key anyone can read is a
 * mistake the operator must hear about. */
#include "base/log.h"
#include "base/rand.h"
#include "store/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_HEX (2 * SPOOL_KEY_LEN)

void spool_key_wipe(spool_key *k)
{
	if (k)
		OPENSSL_cleanse(k->bytes, sizeof k->bytes);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads an existing key file: 0, or -1 (logged). */
static int key_read(const char *path, int fd, spool_key *out)
{
	struct stat st;
	char text[KEY_HEX + 2];
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		LOG_ERROR("spool", "the spool key is not a regular file path=%s", path);
		return -1;
	}
	if (st.st_mode & 077) {
		LOG_ERROR(
		    "spool",
		    "the spool key may be read by others, refused path=%s mode=%04o fix=\"chmod "
		    "600 %s\"",
		    path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	ssize_t n = read(fd, text, sizeof text);
	int ok = n == KEY_HEX || (n == KEY_HEX + 1 && text[KEY_HEX] == '\n');
	for (int i = 0; ok && i < SPOOL_KEY_LEN; i++) {
		int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
		ok = hi >= 0 && lo >= 0;
		out->bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	OPENSSL_cleanse(text, sizeof text);
	if (!ok) {
		spool_key_wipe(out);
		LOG_ERROR("spool", "the spool key is not 64 hex digits path=%s", path);
		return -1;
	}
	return 0;
}

/* Makes a new key file, durably: the records it protects are fsync'd, so must it be. */
static int key_create(const char *path, spool_key *out)
{
	char text[KEY_HEX + 2];
	if (spool_mkdirs(path) != 0 || rand_fill(out->bytes, sizeof out->bytes) != 0)
		return -1;
	for (int i = 0; i < SPOOL_KEY_LEN; i++)
		snprintf(text + 2 * i, 3, "%02x", out->bytes[i]);
	text[KEY_HEX] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ok = fd >= 0 && write(fd, text, KEY_HEX + 1) == KEY_HEX + 1 && fsync(fd) == 0;
	int err = errno;
	OPENSSL_cleanse(text, sizeof text);
	if (fd >= 0 && close(fd) != 0)
		ok = 0;
	if (!ok) {
		if (fd >= 0)
			unlink(path);
		spool_key_wipe(out);
		errno = err;
		return -1;
	}
	/* The new name must survive a crash as well as the contents. */
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	LOG_INFO("spool", "created the spool key path=%s", path);
	return 0;
}

int spool_key_load(const char *path, int create, spool_key *out)
{
	if (!path || !*path || !out)
		return -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			int rc = key_read(path, fd, out);
			close(fd);
			return rc;
		}
		if (errno != ENOENT) {
			LOG_ERROR("spool", "cannot read the spool key path=%s err=\"%s\"", path,
			          strerror(errno));
			return -1;
		}
		if (!create)
			return 1;
		if (key_create(path, out) == 0)
			return 0;
		if (errno != EEXIST) {
			LOG_ERROR("spool", "cannot create the spool key path=%s err=\"%s\"", path,
			          strerror(errno));
			return -1;
		}
		/* Someone else made it first: read theirs. */
	}
	return -1;
}

/* ---- AES-256-GCM ---- */

static int gcm(int encrypt, const spool_key *k, const uint8_t nonce[SPOOL_NONCE_LEN],
               const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n, uint8_t *out,
               uint8_t tag[SPOOL_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, ok = ctx != NULL;
	ok = ok && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) == 1;
	ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SPOOL_NONCE_LEN, NULL) == 1;
	ok = ok && EVP_CipherInit_ex(ctx, NULL, NULL, k->bytes, nonce, encrypt) == 1;
	ok = ok && EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len) == 1;
	ok = ok && EVP_CipherUpdate(ctx, out, &len, in, (int)n) == 1;
	if (!encrypt)
		ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SPOOL_TAG_LEN, tag) == 1;
	/* On decryption this is where the tag is checked. */
	ok = ok && EVP_CipherFinal_ex(ctx, out + len, &len) == 1;
	if (encrypt)
		ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SPOOL_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		OPENSSL_cleanse(out, n);
	return ok ? 0 : -1;
}

int spool_seal(const spool_key *k, const uint8_t nonce[SPOOL_NONCE_LEN], const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t n, uint8_t *out,
               uint8_t tag[SPOOL_TAG_LEN])
{
	return gcm(1, k, nonce, aad, aad_len, in, n, out, tag);
}

int spool_unseal(const spool_key *k, const uint8_t nonce[SPOOL_NONCE_LEN], const uint8_t *aad,
                 size_t aad_len, const uint8_t *in, size_t n, const uint8_t tag[SPOOL_TAG_LEN],
                 uint8_t *out)
{
	uint8_t t[SPOOL_TAG_LEN];
	memcpy(t, tag, sizeof t);
	return gcm(0, k, nonce, aad, aad_len, in, n, out, t);
}
