#!/bin/sh
# keepalived's check for madoguchi (deploy/keepalived/keepalived.conf): exits 0 only when
# this node serves, that is when its /healthz answers 200 ("role":"active"); a standby
# answers 503 and a stopped server nothing, and both fail the check. Host and port are the
# configuration's `bind` (when not 0.0.0.0) and `port`; the certificate is not checked (it
# is the node's own, reached on its own address).
exec curl --silent --fail --insecure --max-time 1 --output /dev/null \
    "https://${MADOGUCHI_HOST:-127.0.0.1}:${MADOGUCHI_PORT:-8443}/healthz"
