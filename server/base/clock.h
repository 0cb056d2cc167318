/* Time sources. Pure modules (routing) never call these: the shell passes "now" in. */
#ifndef MDG_BASE_CLOCK_H
#define MDG_BASE_CLOCK_H

#include <stdint.h>

/* Monotonic microseconds, for intervals and packet timing. */
int64_t clock_mono_us(void);
/* Wall-clock microseconds since the Unix epoch, for records. */
int64_t clock_wall_us(void);
/* Formats wall-clock microseconds as RFC 3339 UTC with milliseconds into out (>= 32 bytes). */
void clock_format_rfc3339(int64_t wall_us, char *out, int cap);

#endif
