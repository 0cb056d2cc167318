/* Migration 10: active/standby (issue 15; docs/operations.md "Two nodes: active and standby").
 *
 * node_lease holds one row: which node may serve now (holder) and until when (expires_at, on
 * the database's clock), and instance, the holding process (so that two processes given the
 * same node-id by mistake cannot both renew it). The active node renews it every second; a
 * standby claims it only once it has expired. lease.c has the statements and the reasoning.
 *
 * visits.node names the node that ran the visit (the `node-id` key; NULL on a single-node
 * installation). A node starting up closes as `interrupted` only its own visits left open,
 * never those of the other node, which may be live; a node taking the lease over closes all
 * of them (the previous active node stepped down or died, so none of them is live). */
#include "store/internal.h"

const char *const store_migration_10[] = {
    "CREATE TABLE node_lease ("
    " id smallint PRIMARY KEY CHECK (id = 1),"
    " holder text NOT NULL,"
    " instance text NOT NULL," /* the holder's process (a random id per start) */
    " expires_at timestamptz NOT NULL,"
    " acquired_at timestamptz NOT NULL)",
    "ALTER TABLE visits ADD COLUMN node text",
    "CREATE INDEX visits_open_node_idx ON visits (node) WHERE ended_at IS NULL",
    /* The server claims, renews and releases the lease: one row, no DELETE. */
    "GRANT SELECT, INSERT, UPDATE ON node_lease TO madoguchi_server",
    NULL,
};
