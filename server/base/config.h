/* Server configuration: defaults, then a JSON file (deploy/madoguchi.example.json), then
 * command-line overrides, in that order. Read once at start-up; never changed after. */
#ifndef MDG_BASE_CONFIG_H
#define MDG_BASE_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_IPS  4
#define CONFIG_PATH_MAX 1024

typedef struct config {
	char bind[64];                  /* HTTPS/WSS listen address */
	int port;                       /* HTTPS/WSS port */
	int tls;                        /* 0: plain HTTP/WS, allowed only on loopback */
	char tls_cert[CONFIG_PATH_MAX]; /* generated self-signed when missing */
	char tls_key[CONFIG_PATH_MAX];
	char web_root[CONFIG_PATH_MAX];
	char media_bind[64];                /* UDP media socket address */
	int media_port;                     /* 0 = any free port */
	char media_ips[CONFIG_MAX_IPS][64]; /* addresses announced as ICE host candidates */
	int n_media_ips;
	int media_tcp; /* passive ICE-TCP on media_port (TCP) for networks that block UDP */
	int media_probe; /* probe receivers' downlinks so their estimates can rise (default on) */
	int simulcast;   /* accept browsers' simulcast camera layers (default on) */
	int audio_red; /* answer audio RED (RFC 2198) when offered; default on */
	char db[CONFIG_PATH_MAX];    /* libpq conninfo */
	char spool[CONFIG_PATH_MAX]; /* on-disk record spool, relative to the working directory */
	char spool_key[CONFIG_PATH_MAX]; /* the spool's encryption key file; "": spool + ".key" */
	char log_level[16];
	int no_answer_s; /* a visit nobody answers within this time ends as no_answer */
	/* Origins (scheme://host[:port]) whose pages may open /ws besides the server's own
	 * host, comma-separated; empty = only pages served under the request's Host. */
	char allowed_origins[512];
	/* A Bearer token that opens /metrics to other hosts than loopback; empty = none. */
	char metrics_token[128];
	/* Active/standby (docs/operations.md): two nodes share one database; only the node
	 * holding the lease serves /ws. Off: a single node, as before. */
	int standby_lease;
	char node_id[64]; /* this node's name among the two; "": the host name */
} config;

void config_defaults(config *c);
/* Loads a JSON file over the current values. Unknown keys are an error, so a typo never
 * silently leaves a default in place. Returns 0 or -1 with a reason in err. */
int config_load_file(config *c, const char *path, char *err, size_t errlen);
/* Sets one option by its command-line name ("port", "media-ip", ...). media-ip may be
 * given several times or as a comma-separated list. Returns 0, -1 for an unknown name, -2
 * for a bad value. */
int config_set(config *c, const char *name, const char *value);
/* Checks the combination (e.g. plain HTTP only on loopback). Returns 0 or -1 with err. */
int config_validate(const config *c, char *err, size_t errlen);

#endif
