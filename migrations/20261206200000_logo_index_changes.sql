-- What the logo index must catch up with: every insert, update or delete of a logo
-- embedding, and every change of an embedded logo's server type, logs the logo id with the
-- id of the transaction that made it. A node's index records the transaction horizon it is
-- in sync with (every transaction below it has ended, so its rows are final) and re-reads
-- the logos logged at or above it. Rows are pruned by age; `logo_index_horizon` keeps the
-- horizon below which rows may be gone, so an index older than that is rebuilt.

CREATE TABLE IF NOT EXISTS embedding.logo_index_change (
    seq bigserial PRIMARY KEY,
    xid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    logo_id integer NOT NULL,
    changed_at timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX IF NOT EXISTS logo_index_change_xid ON embedding.logo_index_change (xid);
CREATE INDEX IF NOT EXISTS logo_index_change_changed_at ON embedding.logo_index_change (changed_at);

CREATE TABLE IF NOT EXISTS embedding.logo_index_horizon (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    pruned_below bigint NOT NULL
);
INSERT INTO embedding.logo_index_horizon (id, pruned_below) VALUES (true, 0)
ON CONFLICT (id) DO NOTHING;

CREATE OR REPLACE FUNCTION embedding.log_logo_embedding_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO embedding.logo_index_change (logo_id) VALUES (OLD.logo_id);
        RETURN OLD;
    END IF;
    INSERT INTO embedding.logo_index_change (logo_id) VALUES (NEW.logo_id);
    IF TG_OP = 'UPDATE' AND OLD.logo_id IS DISTINCT FROM NEW.logo_id THEN
        INSERT INTO embedding.logo_index_change (logo_id) VALUES (OLD.logo_id);
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS logo_embedding_index_change ON embedding.logo_embedding;
CREATE TRIGGER logo_embedding_index_change
    AFTER INSERT OR UPDATE OR DELETE ON embedding.logo_embedding
    FOR EACH ROW EXECUTE FUNCTION embedding.log_logo_embedding_change();

CREATE OR REPLACE FUNCTION embedding.log_logo_server_type_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM embedding.logo_embedding WHERE logo_id = NEW.id) THEN
        INSERT INTO embedding.logo_index_change (logo_id) VALUES (NEW.id);
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS logo_annotation_index_change ON logo_annotation;
CREATE TRIGGER logo_annotation_index_change
    AFTER UPDATE OF server_type ON logo_annotation
    FOR EACH ROW WHEN (OLD.server_type IS DISTINCT FROM NEW.server_type)
    EXECUTE FUNCTION embedding.log_logo_server_type_change();
