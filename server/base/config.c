#include "base/config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults(config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->bind, sizeof c->bind, "0.0.0.0");
	c->port = 8443;
	c->tls = 1;
	snprintf(c->tls_cert, sizeof c->tls_cert, "var/tls/cert.pem");
	snprintf(c->tls_key, sizeof c->tls_key, "var/tls/key.pem");
	snprintf(c->web_root, sizeof c->web_root, "web");
	snprintf(c->media_bind, sizeof c->media_bind, "0.0.0.0");
	c->media_port = 40000;
	c->media_tcp = 1;
	c->media_probe = 1;
	c->audio_red = 1;
	c->simulcast = 1;
	snprintf(c->db, sizeof c->db, "dbname=madoguchi");
	snprintf(c->spool, sizeof c->spool, "var/spool/records.spool");
	snprintf(c->log_level, sizeof c->log_level, "info");
	c->no_answer_s = 300;
}

static int set_str(char *dst, size_t cap, const char *v)
{
	if (!v || strlen(v) >= cap)
		return -2;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int set_port(int *dst, const char *v, int allow_zero)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < (allow_zero ? 0 : 1) || n > 65535)
		return -2;
	*dst = (int)n;
	return 0;
}

static int set_bool(int *dst, const char *v)
{
	static const char *const yes[] = {"on", "true", "yes", "1"};
	static const char *const no[] = {"off", "false", "no", "0"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcmp(v, yes[i]) == 0) {
			*dst = 1;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*dst = 0;
			return 0;
		}
	}
	return -2;
}

static int add_ips(config *c, const char *v)
{
	char buf[512];
	if (set_str(buf, sizeof buf, v) != 0)
		return -2;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (c->n_media_ips >= CONFIG_MAX_IPS || strlen(tok) >= sizeof c->media_ips[0])
			return -2;
		snprintf(c->media_ips[c->n_media_ips++], sizeof c->media_ips[0], "%s", tok);
	}
	return 0;
}

int config_set(config *c, const char *name, const char *value)
{
	if (strcmp(name, "bind") == 0)
		return set_str(c->bind, sizeof c->bind, value);
	if (strcmp(name, "port") == 0)
		return set_port(&c->port, value, 0);
	if (strcmp(name, "tls-cert") == 0)
		return set_str(c->tls_cert, sizeof c->tls_cert, value);
	if (strcmp(name, "tls-key") == 0)
		return set_str(c->tls_key, sizeof c->tls_key, value);
	if (strcmp(name, "web") == 0)
		return set_str(c->web_root, sizeof c->web_root, value);
	if (strcmp(name, "media-bind") == 0)
		return set_str(c->media_bind, sizeof c->media_bind, value);
	if (strcmp(name, "media-port") == 0)
		return set_port(&c->media_port, value, 1);
	if (strcmp(name, "media-ip") == 0)
		return add_ips(c, value);
	if (strcmp(name, "media-tcp") == 0)
		return set_bool(&c->media_tcp, value);
	if (strcmp(name, "media-probe") == 0)
		return set_bool(&c->media_probe, value);
	if (strcmp(name, "simulcast") == 0)
		return set_bool(&c->simulcast, value);
	if (strcmp(name, "audio-red") == 0)
		return set_bool(&c->audio_red, value);
	if (strcmp(name, "db") == 0)
		return set_str(c->db, sizeof c->db, value);
	if (strcmp(name, "spool") == 0)
		return set_str(c->spool, sizeof c->spool, value);
	if (strcmp(name, "spool-key") == 0)
		return set_str(c->spool_key, sizeof c->spool_key, value);
	if (strcmp(name, "no-answer-s") == 0)
		return set_port(&c->no_answer_s, value, 0);
	if (strcmp(name, "allowed-origins") == 0)
		return set_str(c->allowed_origins, sizeof c->allowed_origins, value);
	if (strcmp(name, "metrics-token") == 0)
		return strlen(value) >= 16
		           ? set_str(c->metrics_token, sizeof c->metrics_token, value)
		           : -2; /* a short token is a guessable one */
	if (strcmp(name, "standby-lease") == 0)
		return set_bool(&c->standby_lease, value);
	if (strcmp(name, "node-id") == 0) {
		/* It names the node in the lease row, in visits.node and in logs: keep it plain. */
		for (const char *p = value; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
				return -2;
		return set_str(c->node_id, sizeof c->node_id, value);
	}
	if (strcmp(name, "log-level") == 0)
		return set_str(c->log_level, sizeof c->log_level, value);
	return -1;
}

int config_load_file(config *c, const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root) {
		snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
		return -1;
	}
	int rc = 0;
	const char *key;
	json_t *v;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: the top level must be an object", path);
		rc = -1;
	}
	json_object_foreach (root, key, v) {
		if (rc != 0)
			break;
		int r;
		char num[32];
		if (strcmp(key, "tls") == 0 && json_is_boolean(v)) {
			c->tls = json_is_true(v);
			continue;
		}
		if (strcmp(key, "allowed-origins") == 0 && json_is_array(v)) {
			size_t i;
			json_t *o;
			char list[sizeof c->allowed_origins] = "";
			r = 0;
			json_array_foreach (v, i, o) {
				size_t n = strlen(list);
				if (r == 0 &&
				    (!json_is_string(o) ||
				     snprintf(list + n, sizeof list - n, "%s%s", n ? "," : "",
				              json_string_value(o)) >= (int)(sizeof list - n)))
					r = -2;
			}
			if (r == 0)
				r = config_set(c, key, list);
		} else if (strcmp(key, "media-ip") == 0 && json_is_array(v)) {
			size_t i;
			json_t *ip;
			c->n_media_ips = 0;
			r = 0;
			json_array_foreach (v, i, ip) {
				if (r == 0)
					r = json_is_string(ip) ? add_ips(c, json_string_value(ip))
					                       : -2;
			}
		} else if (json_is_boolean(v)) {
			/* Booleans go through the same parser as "--media-tcp off". */
			r = config_set(c, key, json_is_true(v) ? "on" : "off");
		} else if (json_is_string(v)) {
			r = config_set(c, key, json_string_value(v));
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
			r = config_set(c, key, num);
		} else {
			r = -2;
		}
		if (r == -1) {
			snprintf(err, errlen, "%s: unknown key \"%s\"", path, key);
			rc = -1;
		} else if (r != 0) {
			snprintf(err, errlen, "%s: bad value for \"%s\"", path, key);
			rc = -1;
		}
	}
	json_decref(root);
	return rc;
}

static int is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strcmp(addr, "localhost") == 0;
}

int config_validate(const config *c, char *err, size_t errlen)
{
	if (!c->tls && !is_loopback(c->bind)) {
		snprintf(err, errlen,
		         "plain HTTP (--no-tls) is only allowed on a loopback address, not %s",
		         c->bind);
		return -1;
	}
	if (c->n_media_ips == 0) {
		snprintf(err, errlen,
		         "no media address: set media-ip to an address browsers reach");
		return -1;
	}
	return 0;
}
