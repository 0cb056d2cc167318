/* Arrival times for transport-wide feedback are when a packet reached the server's socket,
 * not when the busy loop got round to reading it (server/sfu/transport.c,
 * kernel_arrival_us). A packet is sent to the real media socket, the loop is kept busy for
 * 150 ms, and then runs: the arrival recorded for the packet's transport-wide sequence
 * number must be within 30 ms of its sending, not 150 ms later. The first packet is read
 * at once, as a control: both ways agree there. */
#include "check.h"
#include "srtp_pair.h"
#include "base/clock.h"
#include "rtp/rtp.h"
#include "sfu/sfu_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TWCC_ID 3

static size_t build(uint8_t *b, uint16_t seq, uint16_t tseq)
{
	size_t n = 0;
	b[n++] = 0x90; /* version 2, extension */
	b[n++] = 111;
	b[n++] = (uint8_t)(seq >> 8);
	b[n++] = (uint8_t)seq;
	memset(b + n, 0, 4);
	n += 4;
	b[n++] = 0x12;
	b[n++] = 0x34;
	b[n++] = 0x56;
	b[n++] = 0x78;
	/* One-byte header extensions, one word: the transport-wide sequence number. */
	b[n++] = 0xbe;
	b[n++] = 0xde;
	b[n++] = 0;
	b[n++] = 1;
	b[n++] = TWCC_ID << 4 | 1;
	b[n++] = (uint8_t)(tseq >> 8);
	b[n++] = (uint8_t)tseq;
	b[n++] = 0;
	memset(b + n, 0x11, 40); /* an Opus-sized payload */
	return n + 40;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
	nanosleep(&ts, NULL);
}

int main(void)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	sfu_config cfg = {.bind_ip = "127.0.0.1", .port = 0, .ips = {"127.0.0.1"}, .n_ips = 1};
	sfu *s = sfu_new(&loop, &cfg);
	CHECK(s != NULL);
	if (!s)
		return check_done("arrival");
	struct sfu_peer *p = sfu_peer_new(s, "p");

	secure *enc = NULL;
	srtp_pair(&p->srtp, &enc);
	CHECK(p->srtp && enc);
	p->ext_twcc = TWCC_ID;

	/* The browser's side: a socket whose address the peer has validated. */
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = 0};
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof me;
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
	CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&me, &alen), 0);
	memcpy(&p->addrs[0].sa, &me, sizeof me);
	p->n_addrs = 1;
	p->selected = 0;
	/* As a valid check would: the address now leads to the peer. */
	CHECK_EQ_INT(addrmap_put(s->paths, (const struct sockaddr *)&me, NULL, p), 0);
	struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	int64_t sent[2], read_at[2], got[2];
	for (int i = 0; i < 2; i++) {
		uint8_t pkt[200];
		size_t len = build(pkt, (uint16_t)(100 + i), (uint16_t)(7 + i));
		CHECK_EQ_INT(secure_protect_rtp(enc, pkt, &len), 0);
		sent[i] = clock_mono_us();
		CHECK_EQ_INT(sendto(fd, pkt, len, 0, (struct sockaddr *)&server, sizeof server),
		             (long long)len);
		/* The second packet waits in the socket while the loop is busy elsewhere. */
		if (i == 1)
			sleep_ms(150);
		else
			sleep_ms(5);
		read_at[i] = clock_mono_us();
		for (int spin = 0; spin < 10 && p->twcc.arrival_us[(7 + i) % TWCC_WINDOW] <= 0; spin++)
			uv_run(&loop, UV_RUN_NOWAIT);
		/* Taken at once: the next tick reports it and clears the entry. */
		got[i] = p->twcc.arrival_us[(7 + i) % TWCC_WINDOW];
	}
	printf("arrival: packet 1 %+lld us after sending (read after %lld us); packet 2 %+lld us "
	       "(read after %lld us)\n",
	       (long long)(got[0] - sent[0]), (long long)(read_at[0] - sent[0]),
	       (long long)(got[1] - sent[1]), (long long)(read_at[1] - sent[1]));
	CHECK(got[0] > 0 && got[1] > 0);
	CHECK(got[0] >= sent[0] && got[0] - sent[0] < 30000);
	CHECK(got[1] >= sent[1] && got[1] - sent[1] < 30000);
	/* Read 150 ms late, recorded as it arrived. */
	CHECK(read_at[1] - sent[1] >= 150000);

	secure_free(enc);
	close(fd);
	sfu_peer_free(p);
	sfu_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return check_done("arrival");
}
