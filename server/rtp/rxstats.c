/* RFC 3550 receiver statistics. Sequence tracking follows appendix A.1 (a forward step of up
 * to RXSTATS_MAX_DROPOUT is a gap; a far jump is believed to be a sender restart only when
 * the next packet follows it), with the misorder tolerance widened to the dedup window so
 * that retransmissions arriving up to RXSTATS_WINDOW packets late still count. Jitter
 * follows A.8 in integer arithmetic, scaled by 16. */
#include "rtp/rxstats.h"

#include <string.h>

#define SEQ_MOD      65536u
#define NO_BAD_SEQ   (SEQ_MOD + 1)
#define JITTER_MAX_S 5 /* larger transit steps are pauses or clock jumps, not jitter */

static int seen_get(const rxstats *s, uint32_t ext)
{
	uint32_t i = ext & (RXSTATS_WINDOW - 1);
	return (s->seen[i / 8] >> (i % 8)) & 1;
}

static void seen_set(rxstats *s, uint32_t ext, int on)
{
	uint32_t i = ext & (RXSTATS_WINDOW - 1);
	if (on)
		s->seen[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		s->seen[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

void rxstats_init(rxstats *s, uint32_t clock_rate)
{
	memset(s, 0, sizeof *s);
	s->clock_rate = clock_rate;
	s->bad_seq = NO_BAD_SEQ;
}

/* Starts counting at seq (first packet, or a confirmed restart); the SR state survives. */
static void start_at(rxstats *s, uint16_t seq)
{
	s->started = 1;
	s->max_seq = seq;
	s->cycles = 0;
	s->base_seq = seq;
	s->bad_seq = NO_BAD_SEQ;
	s->received = 1;
	s->expected_prior = 0;
	s->received_prior = 0;
	s->have_transit = 0;
	memset(s->seen, 0, sizeof s->seen);
	seen_set(s, seq, 1);
}

static uint32_t ext_max(const rxstats *s)
{
	return s->cycles + s->max_seq;
}

/* Arrival time in timestamp units, modulo 2^32 like the RTP timestamps it is compared to. */
static uint32_t arrival_ts(const rxstats *s, int64_t arrival_us)
{
	int64_t sec = arrival_us / 1000000, rem = arrival_us % 1000000;
	int64_t ts = sec * (int64_t)s->clock_rate + rem * (int64_t)s->clock_rate / 1000000;
	return (uint32_t)(uint64_t)ts;
}

static void update_jitter(rxstats *s, uint32_t rtp_ts, int64_t arrival_us)
{
	uint32_t transit = arrival_ts(s, arrival_us) - rtp_ts;
	if (s->have_transit) {
		int64_t d = (int32_t)(transit - s->transit);
		if (d < 0)
			d = -d;
		if (d <= (int64_t)JITTER_MAX_S * s->clock_rate) {
			int64_t j = (int64_t)s->jitter_q4 + d - (((int64_t)s->jitter_q4 + 8) >> 4);
			s->jitter_q4 = (uint32_t)(j < 0 ? 0 : j);
		}
	}
	s->transit = transit;
	s->have_transit = 1;
}

static void on_forward(rxstats *s, uint16_t seq, uint16_t udelta)
{
	uint32_t old = ext_max(s);
	if (seq < s->max_seq)
		s->cycles += SEQ_MOD;
	/* Forget the window positions the new highest seq reuses. */
	uint32_t n = udelta < RXSTATS_WINDOW ? udelta : RXSTATS_WINDOW;
	for (uint32_t k = 1; k <= n; k++)
		seen_set(s, old + k, 0);
	s->max_seq = seq;
	seen_set(s, ext_max(s), 1);
	s->received++;
	s->bad_seq = NO_BAD_SEQ;
}

static void on_behind(rxstats *s, uint16_t udelta)
{
	uint32_t dist = SEQ_MOD - udelta;
	uint32_t top = ext_max(s);
	if (dist > top - s->base_seq) {
		s->ignored++; /* from before the first packet we counted */
		return;
	}
	uint32_t ext = top - dist;
	if (seen_get(s, ext)) {
		s->duplicates++;
		return;
	}
	seen_set(s, ext, 1);
	s->received++;
}

void rxstats_on_packet(rxstats *s, uint16_t seq, uint32_t rtp_ts, int64_t arrival_us)
{
	if (!s)
		return;
	if (!s->started) {
		start_at(s, seq);
		update_jitter(s, rtp_ts, arrival_us);
		return;
	}
	uint16_t udelta = (uint16_t)(seq - s->max_seq);
	if (udelta == 0) {
		s->duplicates++;
	} else if (udelta < RXSTATS_MAX_DROPOUT) {
		on_forward(s, seq, udelta);
		update_jitter(s, rtp_ts, arrival_us);
	} else if (udelta > SEQ_MOD - RXSTATS_WINDOW) {
		on_behind(s, udelta);
	} else if (seq == s->bad_seq) {
		/* Two packets in sequence after a far jump: the sender restarted. */
		s->restarts++;
		start_at(s, seq);
		update_jitter(s, rtp_ts, arrival_us);
	} else {
		s->bad_seq = (uint16_t)(seq + 1);
		s->ignored++;
	}
}

void rxstats_on_sr(rxstats *s, uint32_t ntp_sec, uint32_t ntp_frac, int64_t arrival_us)
{
	if (!s)
		return;
	s->have_sr = 1;
	s->lsr = (ntp_sec << 16) | (ntp_frac >> 16);
	s->sr_arrival_us = arrival_us;
}

static int64_t expected(const rxstats *s)
{
	return (int64_t)(uint32_t)(ext_max(s) - s->base_seq) + 1;
}

int rxstats_report(rxstats *s, uint32_t ssrc, int64_t now_us, rtcp_report_block *out)
{
	if (!s || !out || !s->started)
		return -1;
	int64_t exp = expected(s);
	int64_t lost = exp - (int64_t)s->received;
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	int64_t exp_int = exp - (int64_t)s->expected_prior;
	int64_t rec_int = (int64_t)s->received - (int64_t)s->received_prior;
	int64_t lost_int = exp_int - rec_int;
	s->expected_prior = (uint64_t)exp;
	s->received_prior = s->received;
	int64_t fraction = 0;
	if (exp_int > 0 && lost_int > 0)
		fraction = (lost_int << 8) / exp_int;
	s->last_fraction = (uint8_t)(fraction > 255 ? 255 : fraction);

	memset(out, 0, sizeof *out);
	out->ssrc = ssrc;
	out->fraction_lost = s->last_fraction;
	out->cumulative_lost = (int32_t)lost;
	out->highest_seq = ext_max(s);
	out->jitter = s->jitter_q4 >> 4;
	if (s->have_sr) {
		int64_t d = now_us - s->sr_arrival_us;
		if (d < 0)
			d = 0;
		if (d > 3600000000LL)
			d = 3600000000LL; /* keeps the product below in range; DLSR saturates anyway
			                   */
		int64_t dlsr = d * 65536 / 1000000;
		out->lsr = s->lsr;
		out->dlsr = dlsr > UINT32_MAX ? UINT32_MAX : (uint32_t)dlsr;
	}
	return 0;
}

double rxstats_loss_fraction(const rxstats *s)
{
	return s ? s->last_fraction / 256.0 : 0.0;
}

int64_t rxstats_lost(const rxstats *s)
{
	if (!s || !s->started)
		return 0;
	return expected(s) - (int64_t)s->received;
}

int64_t rxstats_jitter_us(const rxstats *s)
{
	if (!s || s->clock_rate == 0)
		return 0;
	return (int64_t)(s->jitter_q4 >> 4) * 1000000 / s->clock_rate;
}
