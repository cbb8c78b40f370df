-- Product Opener edits decided by an annotation. They are written in the transaction
-- that records the annotation and sent after it commits (no row lock is held while
-- Product Opener answers); each edit is marked with Product Opener's answer, so a plan
-- that half-succeeded is resumed from its first unsent edit, never replayed.
CREATE TABLE IF NOT EXISTS product_edit (
    id bigserial PRIMARY KEY,
    insight_id uuid NOT NULL,
    seq integer NOT NULL,
    barcode character varying(100) NOT NULL,
    server_type character varying(10) NOT NULL,
    edit jsonb NOT NULL,
    -- The insight's annotation fields before the annotation, restored if nothing of
    -- the plan could be sent.
    insight_before jsonb NOT NULL,
    -- Who the edits are made for (their own credentials are never stored: a resumed
    -- edit is sent with the service's account and names the user in its comment).
    username text,
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'done', 'failed')),
    answer text,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    UNIQUE (insight_id, seq)
);

CREATE INDEX IF NOT EXISTS product_edit_open
    ON product_edit (insight_id) WHERE state IN ('pending', 'sending');

-- The client address (a hash of it) of an anonymous vote: at most one anonymous vote
-- per address and insight counts.
ALTER TABLE annotation_vote ADD COLUMN IF NOT EXISTS client_key text;

CREATE UNIQUE INDEX IF NOT EXISTS annotation_vote_insight_client
    ON annotation_vote (insight_id, client_key)
    WHERE username IS NULL AND client_key IS NOT NULL;
