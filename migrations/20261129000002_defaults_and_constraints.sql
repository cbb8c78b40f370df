-- Robotoff set its defaults in Python only; here the database supplies them, so rows
-- written by any tool get the same values. The constraints Robotoff's models declared
-- but its migrations never created are added, and the indexes the service's own query
-- patterns need.

ALTER TABLE product_insight
    ALTER COLUMN id SET DEFAULT gen_random_uuid(),
    ALTER COLUMN data SET DEFAULT '{}'::jsonb,
    ALTER COLUMN n_votes SET DEFAULT 0,
    ALTER COLUMN countries SET DEFAULT '[]'::jsonb,
    ALTER COLUMN brands SET DEFAULT '[]'::jsonb,
    ALTER COLUMN automatic_processing SET DEFAULT false,
    ALTER COLUMN unique_scans_n SET DEFAULT 0,
    ALTER COLUMN reserved_barcode SET DEFAULT false,
    ALTER COLUMN campaign SET DEFAULT '[]'::jsonb;

ALTER TABLE annotation_vote
    ALTER COLUMN id SET DEFAULT gen_random_uuid(),
    ALTER COLUMN "timestamp" SET DEFAULT (now() AT TIME ZONE 'utc');

ALTER TABLE prediction
    ALTER COLUMN server_type SET DEFAULT 'off',
    ALTER COLUMN "timestamp" SET DEFAULT (now() AT TIME ZONE 'utc');

ALTER TABLE image ALTER COLUMN deleted SET DEFAULT false;

-- Declared in Robotoff's LogoAnnotation model, never created by its migrations.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'logo_annotation_index_check') THEN
        ALTER TABLE logo_annotation ADD CONSTRAINT logo_annotation_index_check CHECK (index >= 0);
    END IF;
END $$;
CREATE UNIQUE INDEX IF NOT EXISTS logo_annotation_image_prediction_id_index
    ON logo_annotation (image_prediction_id, index);

-- Robotoff's save_image looks an image up by (source_image, server_type) before
-- inserting: one row per image and flavor.
CREATE UNIQUE INDEX IF NOT EXISTS image_source_image_server_type
    ON image (source_image, server_type) NULLS NOT DISTINCT;

-- Per-product reads (insights, predictions, images of one product on one flavor).
CREATE INDEX IF NOT EXISTS product_insight_barcode_server_type_type
    ON product_insight (barcode, server_type, type);
CREATE INDEX IF NOT EXISTS prediction_barcode_server_type_type
    ON prediction (barcode, server_type, type);

-- Automatic processing: insights whose process_after has passed and not yet annotated.
CREATE INDEX IF NOT EXISTS product_insight_pending_automatic
    ON product_insight (process_after)
    WHERE annotation IS NULL AND process_after IS NOT NULL;
