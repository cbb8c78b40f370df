-- The product store: the fields of Product Opener products that importers and
-- annotators read, fed by the JSONL dump and refreshed from the product API.

CREATE TABLE IF NOT EXISTS product (
    code character varying(100) NOT NULL,
    server_type character varying(10) NOT NULL,
    product_type text,
    lang text,
    product_name text,
    quantity text,
    expiration_date text,
    brands text,
    brands_tags text[] NOT NULL DEFAULT '{}',
    countries_tags text[] NOT NULL DEFAULT '{}',
    categories_tags text[] NOT NULL DEFAULT '{}',
    labels_tags text[] NOT NULL DEFAULT '{}',
    stores_tags text[] NOT NULL DEFAULT '{}',
    emb_codes_tags text[] NOT NULL DEFAULT '{}',
    languages_codes text[] NOT NULL DEFAULT '{}',
    unique_scans_n integer NOT NULL DEFAULT 0,
    schema_version integer,
    rev integer,
    last_modified_t bigint,
    -- {image id: {sizes, uploaded_t, ...}} and selected images, as Product Opener sends them.
    images jsonb NOT NULL DEFAULT '{}'::jsonb,
    packagings jsonb NOT NULL DEFAULT '[]'::jsonb,
    nutriments jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Other fields read by importers: ingredients_text_<lang>, nutrition_data_per, ...
    extra jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    PRIMARY KEY (code, server_type)
);

CREATE INDEX IF NOT EXISTS product_code ON product (code);
