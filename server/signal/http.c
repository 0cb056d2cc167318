/* The HTTP endpoints of the server process besides static files (shared/PROTOCOL.md, HTTP):
 * /healthz, /metrics (its text is metrics.c's), POST /api/login and /api/logout, and
 * GET /api/stats/monthly. The API routes answer
 * asynchronously (a password check, a database query): they return 1 to the front door and
 * finish with sig_http_complete. Every request that needs the database holds a small job
 * with the handle; the store calls back exactly once, with -1 at shutdown at the latest, so
 * every handle is completed. */
#include "base/clock.h"
#include "base/log.h"
#include "signal/app_internal.h"
#include "store/analytics.h"

#include <ctype.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Statistics: at most ten years per request keeps one answer to a few MB. */
#define STATS_MAX_MONTHS 120

static int respond(sig_http_response *resp, int status, const char *type, char *body)
{
	resp->status = status;
	resp->content_type = type;
	resp->body = body;
	resp->body_len = body ? strlen(body) : 0;
	return 0;
}

/* ---- responses ---- */

static int respond_json(sig_http_response *resp, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
	json_decref(body);
	if (!text)
		return respond(resp, 500, "application/json", strdup("{\"error\":\"internal\"}"));
	return respond(resp, status, "application/json", text);
}

static int respond_error(sig_http_response *resp, int status, const char *code, const char *message)
{
	return respond_json(resp, status,
	                    json_pack("{s:s, s:s}", "error", code, "message", message));
}

/* Completes a pending request with an error. */
static void complete_error(sig_http_pending *p, int status, const char *code, const char *message)
{
	sig_http_response r = {0};
	respond_error(&r, status, code, message);
	if (status == 503)
		r.retry_after_s = 5;
	sig_http_complete(p, &r);
}

/* ---- POST /api/login ---- */

typedef struct login_job {
	sig_app *app;
	sig_http_pending *pending;
	char ip[64];
	char username[STORE_ID_MAX];
	char *password;            /* until the check starts */
	char tenant[STORE_ID_MAX]; /* the Host's (tenant.c) */
} login_job;

static void login_job_free(login_job *job)
{
	if (job->password) {
		OPENSSL_cleanse(job->password, strlen(job->password));
		free(job->password);
	}
	free(job);
}

static void on_logout_quiet(void *user, int err)
{
	(void)user;
	(void)err;
}

static void on_login(void *user, int err, const store_login *l)
{
	login_job *job = user;
	/* Another tenant's staff member: a wrong password here; the token just made is
	 * revoked at once, never shown (tenant.c). */
	if (err == 0 &&
	    strcmp(l->staff.tenant[0] ? l->staff.tenant : SIG_DEFAULT_TENANT, job->tenant) != 0) {
		if (store_logout(job->app->store, l->token, on_logout_quiet, NULL) != 0)
			LOG_WARN("http", "login of another tenant not revoked");
		err = 1;
	}
	cred_end(job->app, job->username, job->ip, err, "http");
	if (err == 0) {
		char shown[STORE_ID_MAX];
		LOG_INFO("http", "login user=%s ip=%s",
		         cred_log_safe(job->username, shown, sizeof shown), job->ip);
		sig_http_response r = {0};
		respond_json(
		    &r, 200,
		    json_pack("{s:s, s:s}", "token", l->token, "expires_at", l->expires_at));
		sig_http_complete(job->pending, &r);
	} else if (err > 0) {
		complete_error(job->pending, 401, "unauthorized", "wrong username or password");
	} else {
		complete_error(job->pending, 503, "unavailable", "the database is unavailable");
	}
	login_job_free(job);
}

/* The limiter let the check through (go) or the server is stopping before it ran. */
static void login_go(void *ctx, int go)
{
	login_job *job = ctx;
	char *pw = job->password;
	job->password = NULL;
	int rc = go ? store_login_create(job->app->store, job->username, pw, on_login, job) : -1;
	OPENSSL_cleanse(pw, strlen(pw));
	free(pw);
	if (rc != 0) {
		if (go)
			cred_end(job->app, job->username, job->ip, -1, "http");
		complete_error(job->pending, 503, "unavailable", "the database is unavailable");
		login_job_free(job);
	}
}

static int api_login(sig_app *app, const sig_http_request *req, sig_http_response *resp)
{
	json_error_t jerr;
	json_t *msg = req->body ? json_loadb(req->body, req->body_len, 0, &jerr) : NULL;
	json_t *u = json_object_get(msg, "username"), *pw = json_object_get(msg, "password");
	if (!json_is_object(msg) || !json_is_string(u) || !json_is_string(pw) ||
	    json_string_length(u) == 0 || json_string_length(u) >= STORE_ID_MAX ||
	    json_string_length(pw) == 0 || json_string_length(pw) > 1024) {
		json_decref(msg);
		return respond_error(resp, 400, "bad_request",
		                     "expected {\"username\":\"…\",\"password\":\"…\"}");
	}
	login_job *job = calloc(1, sizeof *job);
	if (job)
		job->password = strdup(json_string_value(pw));
	if (!job || !job->password) {
		free(job);
		json_decref(msg);
		return respond_error(resp, 500, "internal", "out of memory");
	}
	job->app = app;
	job->pending = resp->pending;
	snprintf(job->ip, sizeof job->ip, "%s", req->peer_ip ? req->peer_ip : "unknown");
	snprintf(job->username, sizeof job->username, "%s", json_string_value(u));
	snprintf(job->tenant, sizeof job->tenant, "%s", tenant_of_host(app, req->host));
	json_decref(msg);
	int retry = 0;
	int rc = cred_begin(app, job->username, job->ip, login_go, job, &retry);
	if (rc != 0) {
		login_job_free(job);
		respond_error(resp, 429, "too_many", "too many login attempts; try again later");
		resp->retry_after_s = retry;
		return 0;
	}
	return 1;
}

/* ---- POST /api/logout ---- */

static void on_logout(void *user, int err)
{
	sig_http_pending *pending = user;
	if (err == 0) {
		sig_http_response r = {0};
		respond(&r, 200, "application/json", strdup("{}"));
		sig_http_complete(pending, &r);
	} else if (err > 0) {
		complete_error(pending, 401, "unauthorized", "unknown or expired token");
	} else {
		complete_error(pending, 503, "unavailable", "the database is unavailable");
	}
}

static const char *bearer_token(const char *authorization);

static int api_logout(sig_app *app, const sig_http_request *req, sig_http_response *resp)
{
	const char *token = bearer_token(req->authorization);
	if (!token)
		return respond_error(
		    resp, 401, "unauthorized",
		    "Authorization: Bearer TOKEN (from POST /api/login) is required");
	if (store_logout(app->store, token, on_logout, resp->pending) != 0)
		return respond_error(resp, 401, "unauthorized", "malformed token");
	return 1;
}

/* ---- GET /api/stats/monthly: parameters ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* Percent-decodes [src, src+len) into out (cap bytes, NUL-terminated). -1 when it does not
 * fit, is malformed, or decodes to a control character. */
static int url_decode(const char *src, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)src[i];
		if (c == '%') {
			if (i + 2 >= len)
				return -1;
			int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f || n + 1 >= cap)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

/* "YYYY-MM" with a month 1..12 and a year from 1900 on. */
static int parse_month(const char *v, int *year, int *month)
{
	if (strlen(v) != 7 || v[4] != '-')
		return -1;
	for (int i = 0; i < 7; i++)
		if (i != 4 && !isdigit((unsigned char)v[i]))
			return -1;
	*year = atoi(v);
	*month = atoi(v + 5);
	return *year >= 1900 && *month >= 1 && *month <= 12 ? 0 : -1;
}

/* by=branch,department,procedure in any order; empty = one total row per month. */
static int parse_by(const char *v, store_stats_query *q)
{
	q->by_branch = q->by_department = q->by_procedure = 0;
	while (*v) {
		size_t n = strcspn(v, ",");
		if (n == 6 && !strncmp(v, "branch", n))
			q->by_branch = 1;
		else if (n == 10 && !strncmp(v, "department", n))
			q->by_department = 1;
		else if (n == 9 && !strncmp(v, "procedure", n))
			q->by_procedure = 1;
		else
			return -1;
		v += n;
		if (*v == ',' && *++v == '\0')
			return -1; /* a trailing comma */
	}
	return 0;
}

typedef struct stats_params {
	store_stats_query q;
	int csv;
	char from[8], to[8];
} stats_params;

/* Reads and checks the query string; on error writes a message for the 400 answer. */
static int parse_stats_query(const char *query, stats_params *p, char *why, size_t cap)
{
	char seen_from = 0, seen_to = 0, seen_by = 0, seen_format = 0;
	memset(p, 0, sizeof *p);
	p->q.by_branch = p->q.by_department = p->q.by_procedure = 1;
	for (const char *s = query ? query : ""; *s;) {
		size_t n = strcspn(s, "&");
		const char *eq = memchr(s, '=', n);
		char name[16], value[64];
		if (!eq || url_decode(s, (size_t)(eq - s), name, sizeof name) != 0 ||
		    url_decode(eq + 1, n - (size_t)(eq - s) - 1, value, sizeof value) != 0) {
			snprintf(why, cap, "malformed query string");
			return -1;
		}
		char *seen = !strcmp(name, "from")     ? &seen_from
		             : !strcmp(name, "to")     ? &seen_to
		             : !strcmp(name, "by")     ? &seen_by
		             : !strcmp(name, "format") ? &seen_format
		                                       : NULL;
		if (!seen) {
			snprintf(why, cap, "unknown parameter \"%s\"", name);
			return -1;
		}
		if ((*seen)++) {
			snprintf(why, cap, "parameter \"%s\" given twice", name);
			return -1;
		}
		if (!strcmp(name, "from") &&
		    parse_month(value, &p->q.from_year, &p->q.from_month) == 0)
			snprintf(p->from, sizeof p->from, "%.7s", value);
		else if (!strcmp(name, "to") &&
		         parse_month(value, &p->q.to_year, &p->q.to_month) == 0)
			snprintf(p->to, sizeof p->to, "%.7s", value);
		else if (!strcmp(name, "by") && parse_by(value, &p->q) == 0)
			;
		else if (!strcmp(name, "format") &&
		         (!strcmp(value, "json") || !strcmp(value, "csv")))
			p->csv = !strcmp(value, "csv");
		else {
			snprintf(why, cap, "bad value for \"%s\"%s", name,
			         !strcmp(name, "by")       ? ": use branch, department, procedure"
			         : !strcmp(name, "format") ? ": use json or csv"
			                                   : ": use YYYY-MM");
			return -1;
		}
		s += n;
		if (*s == '&')
			s++;
	}
	if (!seen_from || !seen_to) {
		snprintf(why, cap, "from=YYYY-MM and to=YYYY-MM are required");
		return -1;
	}
	int first = p->q.from_year * 12 + p->q.from_month - 1;
	int last = p->q.to_year * 12 + p->q.to_month - 1;
	if (first > last) {
		snprintf(why, cap, "from is after to");
		return -1;
	}
	if (last - first + 1 > STATS_MAX_MONTHS) {
		snprintf(why, cap, "at most %d months per request", STATS_MAX_MONTHS);
		return -1;
	}
	return 0;
}

/* The token of "Authorization: Bearer TOKEN", or NULL. */
static const char *bearer_token(const char *authorization)
{
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *t = authorization + 7;
	while (*t == ' ')
		t++;
	size_t n = strlen(t);
	return n > 0 && n < 256 ? t : NULL;
}

/* ---- GET /api/stats/monthly: answers ---- */

static json_t *json_text_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *json_avg(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static char *stats_json(const store_stats *st)
{
	json_t *rows = json_array();
	for (int i = 0; rows && i < st->n_rows; i++) {
		const store_stats_row *r = &st->rows[i];
		json_t *o = json_pack(
		    "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:o}",
		    "month", r->month, "branch", json_text_or_null(r->branch), "branch_name",
		    json_text_or_null(r->branch_name), "department",
		    json_text_or_null(r->department), "department_name",
		    json_text_or_null(r->department_name), "procedure",
		    json_text_or_null(r->procedure), "procedure_name",
		    json_text_or_null(r->procedure_name), "visits", (json_int_t)r->visits, "legs",
		    (json_int_t)r->legs, "answered", (json_int_t)r->answered, "abandoned",
		    (json_int_t)r->abandoned, "avg_wait_s", json_avg(r->avg_wait_s), "avg_talk_s",
		    json_avg(r->avg_talk_s), "onestop_visits", (json_int_t)r->onestop_visits,
		    "avg_rating", json_avg(r->avg_rating));
		if (o)
			json_object_set_new(o, "booked_visits", json_integer(r->booked_visits));
		if (o)
			json_object_set_new(o, "interpreted_visits",
			                    json_integer(r->interpreted_visits));
		if (!o || json_array_append_new(rows, o) != 0) {
			json_decref(rows);
			return NULL;
		}
	}
	json_t *body = rows ? json_pack("{s:o}", "rows", rows) : NULL;
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
	json_decref(body);
	return text;
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line break, with quotes
 * doubled. Text that a spreadsheet would run as a formula (=, +, -, @, tab or CR first) gets a
 * leading apostrophe: names come from the directory, which is not meant to carry formulas. */
static void csv_text(FILE *f, const char *s)
{
	if (!s)
		return;
	/* Tab and CR lead formulas too in some spreadsheets (OWASP's CSV injection list). */
	int formula = s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
	if (!formula && !strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	if (formula)
		fputc('\'', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_avg(FILE *f, double v, int decimals)
{
	if (!isnan(v))
		fprintf(f, "%.*f", decimals, v);
}

/* UTF-8 with a byte order mark, so that Excel opens the Japanese names correctly; CRLF line
 * ends as RFC 4180 asks; the header row uses the JSON field names. */
static char *stats_csv(const store_stats *st, size_t *len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);
	if (!f)
		return NULL;
	fputs("\xEF\xBB\xBF"
	      "month,branch,branch_name,department,department_name,procedure,procedure_name,"
	      "visits,legs,answered,abandoned,avg_wait_s,avg_talk_s,onestop_visits,avg_rating,"
	      "booked_visits,interpreted_visits\r\n",
	      f);
	for (int i = 0; i < st->n_rows; i++) {
		const store_stats_row *r = &st->rows[i];
		const char *text[] = {r->month,         r->branch,          r->branch_name,
		                      r->department,    r->department_name, r->procedure,
		                      r->procedure_name};
		for (size_t k = 0; k < sizeof text / sizeof text[0]; k++) {
			csv_text(f, text[k]);
			fputc(',', f);
		}
		fprintf(f, "%lld,%lld,%lld,%lld,", r->visits, r->legs, r->answered, r->abandoned);
		csv_avg(f, r->avg_wait_s, 1);
		fputc(',', f);
		csv_avg(f, r->avg_talk_s, 1);
		fprintf(f, ",%lld,", r->onestop_visits);
		csv_avg(f, r->avg_rating, 2);
		fprintf(f, ",%lld,%lld\r\n", r->booked_visits, r->interpreted_visits);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

typedef struct stats_job {
	sig_app *app;
	sig_http_pending *pending;
	stats_params p;
	char tenant[STORE_ID_MAX]; /* the Host's: only its branches are counted */
} stats_job;

static void on_stats(void *user, int err, const store_stats *st)
{
	stats_job *job = user;
	if (err != 0) {
		complete_error(job->pending, 503, "unavailable", "the database is unavailable");
		free(job);
		return;
	}
	sig_http_response r = {0};
	char disposition[96];
	if (job->p.csv) {
		size_t len = 0;
		char *csv = stats_csv(st, &len);
		snprintf(disposition, sizeof disposition,
		         "attachment; filename=\"madoguchi-stats-%s-%s.csv\"", job->p.from,
		         job->p.to);
		r.status = csv ? 200 : 500;
		r.content_type = "text/csv; charset=utf-8";
		r.content_disposition = csv ? disposition : NULL;
		r.body = csv;
		r.body_len = csv ? len : 0;
	} else {
		char *text = stats_json(st);
		respond(&r, text ? 200 : 500, "application/json", text);
	}
	sig_http_complete(job->pending, &r);
	free(job);
}

static void on_stats_auth(void *user, int err, const store_staff *st)
{
	stats_job *job = user;
	if (err == 0 && strcmp(st->tenant[0] ? st->tenant : SIG_DEFAULT_TENANT, job->tenant) != 0)
		err = 1; /* another tenant's token */
	if (err != 0 || !st->analyst) {
		if (err < 0)
			complete_error(job->pending, 503, "unavailable",
			               "the database is unavailable");
		else if (err > 0)
			complete_error(job->pending, 401, "unauthorized",
			               "unknown or expired token: log in again");
		else
			complete_error(job->pending, 403, "forbidden",
			               "statistics need the analyst flag");
		free(job);
		return;
	}
	job->p.q.tenant = job->tenant;
	if (store_stats_monthly(job->app->store, &job->p.q, on_stats, job) != 0) {
		complete_error(job->pending, 503, "unavailable", "the database is unavailable");
		free(job);
	}
}

static int api_stats(sig_app *app, const char *query, const char *authorization,
                     const char *host, sig_http_response *resp)
{
	const char *token = bearer_token(authorization);
	if (!token)
		return respond_error(
		    resp, 401, "unauthorized",
		    "Authorization: Bearer TOKEN (from POST /api/login) is required");
	stats_job *job = calloc(1, sizeof *job);
	if (!job)
		return respond_error(resp, 500, "internal", "out of memory");
	char why[96];
	if (parse_stats_query(query, &job->p, why, sizeof why) != 0) {
		free(job);
		return respond_error(resp, 400, "bad_request", why);
	}
	job->app = app;
	job->pending = resp->pending;
	snprintf(job->tenant, sizeof job->tenant, "%s", tenant_of_host(app, host));
	if (store_login_check(app->store, token, on_stats_auth, job) != 0) {
		free(job);
		return respond_error(resp, 401, "unauthorized", "malformed token");
	}
	return 1;
}

/* ---- routing ---- */

/* /metrics tells who is connected and how the media of each peer fares: for the operator's
 * own monitoring on the server (loopback), or for a scraper holding the configured token.
 * Everyone else is told there is nothing here. */
static int metrics_allowed(sig_app *app, const sig_http_request *req)
{
	if (req->peer_loopback)
		return 1;
	const char *token = bearer_token(req->authorization);
	const char *want = app->cfg.metrics_token;
	size_t n = strlen(want);
	return want[0] && token && strlen(token) == n && CRYPTO_memcmp(token, want, n) == 0;
}

/* POST bodies must say they are JSON: a form or text/plain POST from a page on another
 * site is a "simple request" that browsers send without asking us first. A POST without a
 * body (logout) needs no type. */
static int is_json_body(const sig_http_request *req)
{
	const char *ctype = req->content_type;
	if (!ctype)
		return req->body_len == 0;
	size_t n = strcspn(ctype, ";");
	while (n && ctype[n - 1] == ' ')
		n--;
	return n == 16 && strncasecmp(ctype, "application/json", 16) == 0;
}

int app_on_http(void *user, const sig_http_request *req, sig_http_response *resp)
{
	sig_app *app = user;
	const char *path = req->path;
	int is_get = strcmp(req->method, "GET") == 0;
	if (strcmp(path, "/healthz") == 0) {
		char *b = NULL;
		int status = standby_health(app, &b);
		if (status < 0)
			return -1;
		return respond(resp, status, "application/json", b);
	}
	if (strcmp(path, "/metrics") == 0) {
		if (!metrics_allowed(app, req))
			return -1;
		return respond(resp, 200, "text/plain; version=0.0.4", app_metrics_text(app));
	}
	if (strcmp(path, "/api/status") == 0)
		return status_http(app, req, resp);
	int login = strcmp(path, "/api/login") == 0;
	int logout = strcmp(path, "/api/logout") == 0;
	int stats = strcmp(path, "/api/stats/monthly") == 0;
	if (!login && !logout && !stats)
		return -1;
	if (stats != is_get)
		return respond_error(resp, 405, "method_not_allowed",
		                     stats ? "use GET" : "use POST");
	if (!is_get && !is_json_body(req))
		return respond_error(resp, 415, "unsupported_media_type",
		                     "send the body as Content-Type: application/json");
	if (!app->store || app->stopping) {
		respond_error(resp, 503, "unavailable", "the server is shutting down");
		return 0;
	}
	if (logout)
		return api_logout(app, req, resp);
	return login ? api_login(app, req, resp)
	             : api_stats(app, req->query, req->authorization, req->host, resp);
}
