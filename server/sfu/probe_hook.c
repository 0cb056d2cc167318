/* The default of the downlink prober's entry point (sfu_internal.h): nothing. The prober,
 * when it is linked in, provides the real (strong) definition, so the media plane builds
 * and runs with or without it. */
#include "sfu/sfu_internal.h"

__attribute__((weak)) void sfu_bwe_probe_request(struct sfu_peer *receiver, uint32_t target_bps,
                                                 int64_t now_us)
{
	(void)receiver;
	(void)target_bps;
	(void)now_us;
}
