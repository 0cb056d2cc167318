/* A small WebSocket client (RFC 6455) for the load generator: plain ws:// over TCP, text
 * frames only, enough to speak the signalling protocol to a server on this machine. Connect
 * and handshake block (with a timeout); afterwards the socket is nonblocking: ws_read takes
 * what has arrived and ws_next hands out complete messages. */
#ifndef MDG_LOAD_WS_H
#define MDG_LOAD_WS_H

#include <stddef.h>

typedef struct ws ws;

/* Connects to ws://host:port/path, asking for a subprotocol unless NULL; NULL on failure
 * (the reason on stderr). */
ws *ws_connect(const char *host, int port, const char *path, const char *protocol, int timeout_ms);
void ws_free(ws *w); /* NULL allowed */
int ws_fd(const ws *w);
/* Sends one text message (masked, as a client must); 0 or -1. Waits for the socket when
 * its buffer is full. */
int ws_send(ws *w, const char *text, size_t len);
/* Reads what the socket has; returns the bytes read, 0 when nothing waited, -1 when the
 * connection closed or failed. Answers pings. */
int ws_read(ws *w);
/* The next complete text message that ws_read has buffered, NUL-terminated, valid until
 * the next ws_read or ws_next; NULL when none. */
const char *ws_next(ws *w, size_t *len);
int ws_closed(const ws *w);

#endif
