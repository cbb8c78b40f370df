-- Position of the update listener in each of Product Opener's Redis streams. It moves
-- in the same transaction that stores the jobs of the events read, so an event is
-- never lost nor turned into jobs twice.
CREATE TABLE IF NOT EXISTS stream_offset (
    stream text PRIMARY KEY,
    last_id text NOT NULL,
    updated_at timestamp with time zone NOT NULL DEFAULT now()
);
