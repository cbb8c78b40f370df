-- The durable job queue. A job is queued until its run_after has passed, then claimed
-- by the node owning its shard (FOR UPDATE SKIP LOCKED), run by the product shard,
-- and marked done; failures are retried with backoff until max_attempts, then kept
-- as dead jobs.

CREATE TABLE IF NOT EXISTS job (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    barcode character varying(100),
    server_type character varying(10),
    -- Last 4 bytes of md5(barcode) as a little-endian i32 (random for jobs with no
    -- product); shard = shard_key mod workers.shards, recomputed if that setting changes.
    shard_key integer NOT NULL,
    shard integer NOT NULL,
    -- 0 = high, 1 = ml, 2 = low
    priority smallint NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_after timestamp with time zone NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL,
    last_error text,
    dedupe_key text,
    -- Node that claimed the job, and the claim's token: completing or failing a job
    -- requires the token of the current claim, so a run whose claim was taken over
    -- (crash recovery) cannot commit its effects.
    locked_by text,
    lease uuid,
    locked_at timestamp with time zone,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL DEFAULT now()
);

-- Claiming: the due queued jobs of one shard in priority order.
CREATE INDEX IF NOT EXISTS job_claim ON job (shard, priority, run_after, id) WHERE state = 'queued';
-- Wake-up planning: the earliest future job.
CREATE INDEX IF NOT EXISTS job_run_after ON job (run_after) WHERE state = 'queued';
-- Crash recovery: jobs left running by a node.
CREATE INDEX IF NOT EXISTS job_running ON job (shard) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS job_dead ON job (id) WHERE state = 'dead';
CREATE INDEX IF NOT EXISTS job_finished_at ON job (finished_at) WHERE state = 'done';
CREATE INDEX IF NOT EXISTS job_barcode ON job (barcode, server_type);
-- At most one pending job per dedupe key: enqueueing a duplicate is a no-op.
CREATE UNIQUE INDEX IF NOT EXISTS job_dedupe_pending ON job (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state = 'queued';

-- Rows written by probe jobs, the diagnostic job kind used by the queue benchmark and
-- by checks of ordering and exactly-once effects.
CREATE TABLE IF NOT EXISTS job_probe (
    job_id bigint NOT NULL,
    barcode character varying(100),
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone NOT NULL
);
CREATE INDEX IF NOT EXISTS job_probe_job_id ON job_probe (job_id);

-- Every insert into the queue wakes the dispatchers listening on `robotoff_jobs`.
CREATE OR REPLACE FUNCTION job_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('robotoff_jobs', '');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS job_notify_insert ON job;
CREATE TRIGGER job_notify_insert AFTER INSERT ON job
    FOR EACH STATEMENT EXECUTE FUNCTION job_notify();
