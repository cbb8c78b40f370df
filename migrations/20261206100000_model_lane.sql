-- The model lane claims due `ml` jobs (priority 1) of the shards a node owns, oldest
-- first, apart from the shards' own queue.
CREATE INDEX IF NOT EXISTS job_model_claim ON job (run_after, id)
    WHERE state = 'queued' AND priority = 1;

-- Times a job was put back because a service it needs (Triton) was away; the wait
-- doubles with each, without using up the job's attempts.
ALTER TABLE job ADD COLUMN IF NOT EXISTS deferrals integer NOT NULL DEFAULT 0;
