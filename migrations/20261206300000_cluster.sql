-- Cluster mode. A lease names the one node doing a cluster-wide duty (reading Product
-- Opener's streams); its epoch grows at every change of holder, and the holder's writes
-- check it in their own transaction, so a node that lost the lease cannot write after
-- its successor started.
CREATE TABLE IF NOT EXISTS cluster_lease (
    name text PRIMARY KEY,
    holder text NOT NULL,
    epoch bigint NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    acquired_at timestamp with time zone NOT NULL DEFAULT now()
);

-- Generation of each kind of cluster-wide change announced over Redis (listing caches,
-- data files). A node that missed an announcement sees the number move when it next
-- reads this table, and catches up.
CREATE TABLE IF NOT EXISTS cluster_generation (
    kind text PRIMARY KEY,
    generation bigint NOT NULL DEFAULT 0,
    detail jsonb NOT NULL DEFAULT '[]'::jsonb,
    changed_by text,
    changed_at timestamp with time zone NOT NULL DEFAULT now()
);

-- The cluster-wide scheduled tasks: a run is claimed here first, so that one run per
-- scheduled time happens in the whole cluster however many nodes have the scheduler
-- role (each still fires its own timer); its outcome is kept for operators.
CREATE TABLE IF NOT EXISTS scheduler_task (
    name text PRIMARY KEY,
    runs bigint NOT NULL DEFAULT 0,
    node text,
    last_started timestamp with time zone,
    last_finished timestamp with time zone,
    ok boolean,
    outcome text
);
