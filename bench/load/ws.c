/* The load generator's WebSocket client: see ws.h. */
#include "ws.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WS_MAX_MSG (1024 * 1024)

struct ws {
	int fd;
	int closed;
	uint8_t *in;     /* received bytes not yet handed out */
	size_t len, cap; /* of in */
	size_t consumed; /* bytes of in handed out by the last ws_next */
	char *msg;       /* the message ws_next returned */
	uint32_t mask_state;
};

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -1;
}

static int write_all(ws *w, const uint8_t *data, size_t len)
{
	while (len > 0) {
		ssize_t r = send(w->fd, data, len, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(w->fd, POLLOUT, 5000) != 0)
				return -1;
			continue;
		}
		if (r <= 0)
			return -1;
		data += r;
		len -= (size_t)r;
	}
	return 0;
}

ws *ws_connect(const char *host, int port, const char *path, const char *protocol, int timeout_ms)
{
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai) {
		fprintf(stderr, "ws: cannot resolve %s\n", host);
		return NULL;
	}
	ws *w = calloc(1, sizeof *w);
	if (!w) {
		freeaddrinfo(ai);
		return NULL;
	}
	w->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = w->fd < 0 ? -1 : connect(w->fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc != 0 && (w->fd < 0 || errno != EINPROGRESS || wait_fd(w->fd, POLLOUT, timeout_ms))) {
		fprintf(stderr, "ws: cannot connect to %s:%d: %s\n", host, port, strerror(errno));
		ws_free(w);
		return NULL;
	}
	int err = 0, one = 1;
	socklen_t el = sizeof err;
	getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		fprintf(stderr, "ws: cannot connect to %s:%d: %s\n", host, port, strerror(err));
		ws_free(w);
		return NULL;
	}
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char req[512], proto[128] = "";
	if (protocol)
		snprintf(proto, sizeof proto, "Sec-WebSocket-Protocol: %s\r\n", protocol);
	int n = snprintf(req, sizeof req,
	                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
	                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                 "Sec-WebSocket-Version: 13\r\n%s\r\n",
	                 path, host, port, proto);
	if (write_all(w, (const uint8_t *)req, (size_t)n) != 0) {
		ws_free(w);
		return NULL;
	}
	/* The reply's head, byte by byte up to the blank line: frames may follow at once. */
	char head[2048];
	size_t hl = 0;
	while (hl < sizeof head - 1) {
		ssize_t r = recv(w->fd, head + hl, 1, 0);
		if (r == 1) {
			hl++;
			if (hl >= 4 && memcmp(head + hl - 4, "\r\n\r\n", 4) == 0)
				break;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR) &&
		    wait_fd(w->fd, POLLIN, timeout_ms) == 0)
			continue;
		break;
	}
	head[hl] = 0;
	if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "ws: upgrade refused: %.60s\n", head);
		ws_free(w);
		return NULL;
	}
	w->mask_state = 0x9E3779B9u ^ (uint32_t)(uintptr_t)w;
	return w;
}

void ws_free(ws *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->in);
	free(w->msg);
	free(w);
}

int ws_fd(const ws *w)
{
	return w->fd;
}

int ws_closed(const ws *w)
{
	return w->closed;
}

static int send_frame(ws *w, int opcode, const uint8_t *data, size_t len)
{
	uint8_t hdr[14];
	size_t hl = 0;
	hdr[hl++] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		hdr[hl++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		hdr[hl++] = 0x80 | 126;
		hdr[hl++] = (uint8_t)(len >> 8);
		hdr[hl++] = (uint8_t)len;
	} else {
		hdr[hl++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[hl++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	w->mask_state = w->mask_state * 1664525u + 1013904223u;
	uint8_t mask[4] = {(uint8_t)(w->mask_state >> 24), (uint8_t)(w->mask_state >> 16),
	                   (uint8_t)(w->mask_state >> 8), (uint8_t)w->mask_state};
	memcpy(hdr + hl, mask, 4);
	hl += 4;
	uint8_t *buf = malloc(hl + len);
	if (!buf)
		return -1;
	memcpy(buf, hdr, hl);
	for (size_t i = 0; i < len; i++)
		buf[hl + i] = data[i] ^ mask[i & 3];
	int rc = write_all(w, buf, hl + len);
	free(buf);
	return rc;
}

int ws_send(ws *w, const char *text, size_t len)
{
	if (w->closed)
		return -1;
	return send_frame(w, 1, (const uint8_t *)text, len);
}

int ws_read(ws *w)
{
	if (w->consumed) {
		memmove(w->in, w->in + w->consumed, w->len - w->consumed);
		w->len -= w->consumed;
		w->consumed = 0;
	}
	int total = 0;
	for (;;) {
		if (w->cap - w->len < 65536) {
			size_t cap = w->cap ? w->cap * 2 : 131072;
			if (cap > 4 * WS_MAX_MSG)
				return -1;
			uint8_t *in = realloc(w->in, cap);
			if (!in)
				return -1;
			w->in = in;
			w->cap = cap;
		}
		ssize_t r = recv(w->fd, w->in + w->len, w->cap - w->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return total;
		if (r <= 0) {
			w->closed = 1;
			return total ? total : -1;
		}
		w->len += (size_t)r;
		total += (int)r;
	}
}

const char *ws_next(ws *w, size_t *out_len)
{
	for (;;) {
		const uint8_t *b = w->in + w->consumed;
		size_t avail = w->len - w->consumed;
		if (avail < 2)
			return NULL;
		int opcode = b[0] & 0x0f;
		int masked = b[1] & 0x80;
		uint64_t len = b[1] & 0x7f;
		size_t hl = 2;
		if (len == 126) {
			if (avail < 4)
				return NULL;
			len = (uint64_t)b[2] << 8 | b[3];
			hl = 4;
		} else if (len == 127) {
			if (avail < 10)
				return NULL;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | b[2 + i];
			hl = 10;
		}
		if (masked)
			hl += 4;
		if (len > WS_MAX_MSG) {
			w->closed = 1;
			return NULL;
		}
		if (avail < hl + len)
			return NULL;
		w->consumed += hl + (size_t)len;
		const uint8_t *payload = b + hl;
		if (opcode == 9) { /* ping */
			send_frame(w, 10, payload, (size_t)len);
			continue;
		}
		if (opcode == 8) {
			w->closed = 1;
			return NULL;
		}
		if (opcode != 1 || !(b[0] & 0x80))
			continue; /* the server sends whole text frames; anything else is skipped */
		free(w->msg);
		w->msg = malloc((size_t)len + 1);
		if (!w->msg)
			return NULL;
		memcpy(w->msg, payload, (size_t)len);
		w->msg[len] = 0;
		*out_len = (size_t)len;
		return w->msg;
	}
}
