/* Fuzz target for the STUN parser and its integrity and fingerprint checks. When the input
 * parses, both checks run (with a fixed key) over the same bytes. */
#include "rtp/stun.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[] = "VOkJxbRl1RmTxUk/WvJxBt";
	stun_msg m;
	(void)stun_is_stun(data, size);
	if (stun_parse(data, size, &m) == 0) {
		(void)stun_check_integrity(data, size, &m, key, sizeof key - 1);
		(void)stun_check_fingerprint(data, size, &m);
		volatile uint8_t sink = 0;
		if (m.username_len > 0) /* ASan checks the username lies inside the input */
			sink ^= m.username[0] ^ m.username[m.username_len - 1];
		(void)sink;
		if (m.has_xor_mapped && m.has_integrity) {
			uint8_t out[128];
			ssize_t n = stun_build_binding_success(
			    out, sizeof out, m.txid, (const struct sockaddr *)&m.xor_mapped, key,
			    sizeof key - 1);
			stun_msg back;
			if (n > 0 && stun_parse(out, (size_t)n, &back) == 0)
				(void)stun_check_integrity(out, (size_t)n, &back, key,
				                           sizeof key - 1);
		}
	}
	(void)stun_strerror(stun_parse(data, size, &m));
	return 0;
}
