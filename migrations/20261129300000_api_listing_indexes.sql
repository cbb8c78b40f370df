-- Indexes of the API's listings on open questions (not annotated, not automatically
-- processable), so that every ordering reads an index range instead of sorting the
-- table.

-- Random order: a window of ids from a random UUID (ids are random UUIDs).
CREATE INDEX IF NOT EXISTS product_insight_open_id
    ON product_insight (id)
    WHERE annotation IS NULL AND automatic_processing = false;
-- The same window over open insights that already have votes (random order favours them).
CREATE INDEX IF NOT EXISTS product_insight_open_voted_id
    ON product_insight (id)
    WHERE annotation IS NULL AND automatic_processing = false AND n_votes > 0;
-- Popularity and confidence orders (id breaks ties, so pages do not overlap).
CREATE INDEX IF NOT EXISTS product_insight_open_popularity
    ON product_insight (unique_scans_n DESC, id)
    WHERE annotation IS NULL AND automatic_processing = false;
CREATE INDEX IF NOT EXISTS product_insight_open_confidence
    ON product_insight (confidence DESC NULLS LAST, id)
    WHERE annotation IS NULL AND automatic_processing = false;
-- Open questions grouped by value tag for one type (/questions/unanswered).
CREATE INDEX IF NOT EXISTS product_insight_open_type_value_tag
    ON product_insight (type, value_tag)
    WHERE annotation IS NULL AND automatic_processing = false;
-- Annotations per user (/users/statistics); Robotoff dropped its username index.
CREATE INDEX IF NOT EXISTS product_insight_username_annotated
    ON product_insight (username)
    WHERE username IS NOT NULL;
-- Logos of a product (audit) and per-product image predictions.
CREATE INDEX IF NOT EXISTS image_barcode_server_type
    ON image (barcode, server_type);
