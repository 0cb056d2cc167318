/* Fuzz target for the JSON protocol handler (server/signal/handlers*.c, session.c,
 * actions.c): a conversation of up to eight clients with the real app, through the callbacks
 * the app registers with its transport (fuzz_app.c).
 *
 * The input is a list of lines; the first byte of a line says who does what, the rest is
 * the payload:
 *   '0'..'7'  client N sends the payload as one text message
 *   'a'..'h'  client N closes its connection
 *   'A'..'H'  client N sends a frame the server refuses (binary)
 *   '-'       the database stops answering: what the clients ask waits
 *   '+'       the database answers what it owes, and again after every line
 *   other     client (byte % 8) sends the payload
 * Empty lines are skipped, and lines after the 32nd ignored. A client connects when first
 * addressed. Clients 0, 1 and 7 start unauthenticated: they must say hello, with the
 * credentials of fuzz_app.h's database or others. The others start as if their hello had been
 * accepted: 2 and 3 are the two kiosks, 4 and 5 clerks, 6 a coordinator with every flag. A
 * client addressed again after its connection closed reconnects unauthenticated, so that it
 * can say hello again, or with `resume`. The database answers after the line that asked, unless
 * it was stopped. In a payload, %V stands for the last visit id and %R for the last resume token
 * the server sent, which it chose at random. */
#include "fuzz_app.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CLIENTS 8
/* Every line costs the work of the whole app (JSON, routing, events to every client), and
 * libFuzzer grows inputs to hundreds of short lines: the lines after this many are ignored,
 * which keeps an execution around a millisecond. The abuse limit (21 bad messages) still fits. */
#define MAX_LINES 32

typedef struct client_def {
	const char *ip;
	enum route_role role; /* ROUTE_ROLE_NONE: unauthenticated */
	int who;              /* fz_kiosks[who] or fz_staff[who] */
} client_def;

static const client_def clients[N_CLIENTS] = {
    {"192.0.2.10", ROUTE_ROLE_NONE, 0},    {"192.0.2.10", ROUTE_ROLE_NONE, 0},
    {"192.0.2.21", ROUTE_ROLE_KIOSK, 0},   {"192.0.2.22", ROUTE_ROLE_KIOSK, 1},
    {"198.51.100.4", ROUTE_ROLE_STAFF, 0}, {"198.51.100.5", ROUTE_ROLE_STAFF, 1},
    {"198.51.100.6", ROUTE_ROLE_STAFF, 2}, {"::1", ROUTE_ROLE_NONE, 0},
};

/* What a successful hello does (handlers.c, hello_done) with the identity the database
 * returned, without waiting for it: join routing, reply with the session's state, drain the
 * actions. */
static void authenticate(sig_app *app, sig_session *s, const client_def *d)
{
	s->role = d->role;
	route_session_info info = {.role = d->role, .ident = s->ident};
	const char *depts[STORE_MAX_DEPTS];
	if (d->role == ROUTE_ROLE_KIOSK) {
		const store_kiosk *k = &fz_kiosks[d->who];
		snprintf(s->ident, sizeof s->ident, "%s", k->id);
		snprintf(s->name, sizeof s->name, "%s", k->name);
		snprintf(s->branch_id, sizeof s->branch_id, "%s", k->branch_id);
		snprintf(s->branch_name, sizeof s->branch_name, "%s", k->branch_name);
	} else {
		s->staff = fz_staff[d->who];
		snprintf(s->ident, sizeof s->ident, "%s", s->staff.id);
		snprintf(s->name, sizeof s->name, "%s", s->staff.name);
		for (int i = 0; i < s->staff.n_departments; i++)
			depts[i] = s->staff.departments[i];
		info.departments = depts;
		info.n_departments = s->staff.n_departments;
		info.flags = (s->staff.coordinator ? ROUTE_FLAG_COORDINATOR : 0) |
		             (s->staff.analyst ? ROUTE_FLAG_ANALYST : 0) |
		             (s->staff.admin ? ROUTE_FLAG_ADMIN : 0);
	}
	if (route_session_join(app->route, s->sid, &info, app_now()) != 0)
		abort();
	s->joined = 1;
	s->state = SIG_READY;
	sig_conn_set_max_message(s->conn, SIG_MAX_MESSAGE);
	session_reply_ok(s, NULL, session_hello_reply(s));
	app_drain_actions(app);
}

/* The payload with %V and %R replaced; malloc'd, exactly *out_len bytes plus a NUL. */
static char *expand(const uint8_t *p, size_t len, size_t *out_len)
{
	const char *visit = fz_last_visit(), *resume = fz_last_resume();
	size_t room = len + 1;
	for (size_t i = 0; i + 1 < len; i++)
		if (p[i] == '%' && (p[i + 1] == 'V' || p[i + 1] == 'R'))
			room += 64;
	char *out = malloc(room);
	if (!out)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		const char *sub = NULL;
		if (p[i] == '%' && i + 1 < len)
			sub = p[i + 1] == 'V' ? visit : p[i + 1] == 'R' ? resume : NULL;
		if (sub) {
			memcpy(out + n, sub, strlen(sub));
			n += strlen(sub);
			i++;
		} else {
			out[n++] = (char)p[i];
		}
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sig_app *app = fz_app();
	int used[N_CLIENTS] = {0};
	int database_answers = 1;
	const uint8_t *end = data + size;
	int lines = 0;
	for (const uint8_t *line = data; line < end && lines < MAX_LINES;) {
		const uint8_t *nl = memchr(line, '\n', (size_t)(end - line));
		const uint8_t *stop = nl ? nl : end;
		const uint8_t *next = nl ? nl + 1 : end;
		if (stop == line) { /* an empty line does nothing */
			line = next;
			continue;
		}
		lines++;
		uint8_t op = *line;
		const uint8_t *payload = line + 1;
		size_t plen = (size_t)(stop - payload);
		line = next;

		if (op == '-' || op == '+') {
			database_answers = op == '+';
			fz_settle(database_answers);
			continue;
		}
		int who = op >= '0' && op <= '7'   ? op - '0'
		          : op >= 'a' && op <= 'h' ? op - 'a'
		          : op >= 'A' && op <= 'H' ? op - 'A'
		                                   : op % N_CLIENTS;
		sig_conn *c = fz_find(who);
		if (op >= 'a' && op <= 'h') {
			if (c)
				fz_close(c);
			fz_settle(database_answers);
			continue;
		}
		if (!c) {
			c = fz_open(clients[who].ip, who);
			sig_session *s = fz_session(c);
			if (!used[who] && s && clients[who].role != ROUTE_ROLE_NONE)
				authenticate(app, s, &clients[who]);
			used[who] = 1;
		}
		if (op >= 'A' && op <= 'H') {
			fz_bad_frame(c, "binary");
		} else {
			size_t n;
			char *text = expand(payload, plen, &n);
			fz_message(c, text, n);
			free(text);
		}
		fz_settle(database_answers);
	}
	fz_reset();
	return 0;
}
