/* STUN (RFC 5389) as ICE-lite needs it: parse a Binding request, check its
 * MESSAGE-INTEGRITY and FINGERPRINT, build a Binding success response.
 * Pure functions over byte buffers; nothing here allocates or does I/O. */
#ifndef MDG_RTP_STUN_H
#define MDG_RTP_STUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define STUN_HEADER_LEN         20
#define STUN_MAGIC_COOKIE       0x2112A442u
#define STUN_BINDING_REQUEST    0x0001
#define STUN_BINDING_SUCCESS    0x0101
#define STUN_BINDING_ERROR      0x0111
#define STUN_BINDING_INDICATION 0x0011

/* Errors returned (negative) by the parser; stun_strerror() names them. */
enum stun_err {
	STUN_ERR_SHORT = -1,     /* fewer bytes than the header or an attribute says */
	STUN_ERR_NOT_STUN = -2,  /* top bits or magic cookie wrong */
	STUN_ERR_LENGTH = -3,    /* length not a multiple of 4 or beyond the buffer */
	STUN_ERR_ATTR = -4,      /* malformed attribute */
	STUN_ERR_INTEGRITY = -5, /* MESSAGE-INTEGRITY missing or wrong */
	STUN_ERR_FINGERPRINT = -6,
	STUN_ERR_SPACE = -7, /* output buffer too small */
};

typedef struct stun_msg {
	uint16_t type;
	uint16_t length; /* body length from the header */
	uint8_t txid[12];
	const uint8_t *username; /* points into the parsed buffer; not NUL-terminated */
	size_t username_len;
	int has_integrity;
	size_t integrity_offset; /* offset of the MESSAGE-INTEGRITY attribute header */
	int has_fingerprint;
	size_t fingerprint_offset;
	int has_priority;
	uint32_t priority;
	int use_candidate;
	int ice_controlling;
	int ice_controlled;
	uint64_t tiebreaker;
	int has_error_code;
	uint16_t error_code;
	int has_xor_mapped;
	struct sockaddr_storage xor_mapped;
} stun_msg;

/* Cheap demultiplexing test (RFC 7983): first byte 0..3, cookie present. */
int stun_is_stun(const uint8_t *buf, size_t len);

/* Parses a whole message. Returns 0 or a negative stun_err. */
int stun_parse(const uint8_t *buf, size_t len, stun_msg *out);

/* Checks MESSAGE-INTEGRITY (HMAC-SHA1 keyed with key, the ICE password for
 * short-term credentials). Returns 0 when it matches, STUN_ERR_INTEGRITY otherwise. */
int stun_check_integrity(const uint8_t *buf, size_t len, const stun_msg *m, const uint8_t *key,
                         size_t key_len);

/* Checks FINGERPRINT. Returns 0 when present and right, STUN_ERR_FINGERPRINT otherwise. */
int stun_check_fingerprint(const uint8_t *buf, size_t len, const stun_msg *m);

/* Builds a Binding success response for txid with XOR-MAPPED-ADDRESS = mapped
 * (IPv4 or IPv6), MESSAGE-INTEGRITY keyed with key and FINGERPRINT.
 * Returns the length written or STUN_ERR_SPACE. */
ssize_t stun_build_binding_success(uint8_t *out, size_t cap, const uint8_t txid[12],
                                   const struct sockaddr *mapped, const uint8_t *key,
                                   size_t key_len);

/* Builds a Binding request (used by tests and the benchmark's synthetic clients):
 * USERNAME, PRIORITY, ICE-CONTROLLING, optional USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT. */
ssize_t stun_build_binding_request(uint8_t *out, size_t cap, const uint8_t txid[12],
                                   const char *username, uint32_t priority, int use_candidate,
                                   uint64_t tiebreaker, const uint8_t *key, size_t key_len);

const char *stun_strerror(int err);

#endif
