-- Robotoff's tables, with Robotoff's names, column types and index names, so that an
-- existing Robotoff database (or a dump of one) carries over unchanged. Every statement
-- is idempotent: on a database restored from Robotoff, existing objects are kept.

CREATE SCHEMA IF NOT EXISTS embedding;

CREATE TABLE IF NOT EXISTS product_insight (
    id uuid NOT NULL PRIMARY KEY,
    barcode character varying(100) NOT NULL,
    type character varying(256) NOT NULL,
    data jsonb NOT NULL,
    "timestamp" timestamp without time zone,
    completed_at timestamp without time zone,
    annotation integer,
    annotated_result integer,
    n_votes integer NOT NULL,
    username text,
    countries jsonb,
    brands jsonb,
    process_after timestamp without time zone,
    value_tag text,
    value text,
    source_image text,
    automatic_processing boolean NOT NULL,
    server_type character varying(10),
    unique_scans_n integer NOT NULL,
    reserved_barcode boolean NOT NULL,
    predictor character varying(100),
    predictor_version character varying(100),
    campaign jsonb,
    confidence real,
    bounding_box jsonb,
    lc character varying(255)[],
    with_image boolean
);

CREATE INDEX IF NOT EXISTS productinsight_barcode ON product_insight USING btree (barcode);
CREATE INDEX IF NOT EXISTS productinsight_type ON product_insight USING btree (type);
CREATE INDEX IF NOT EXISTS productinsight_timestamp ON product_insight USING btree ("timestamp");
CREATE INDEX IF NOT EXISTS productinsight_annotation ON product_insight USING btree (annotation);
CREATE INDEX IF NOT EXISTS productinsight_n_votes ON product_insight USING btree (n_votes);
CREATE INDEX IF NOT EXISTS productinsight_countries ON product_insight USING gin (countries);
CREATE INDEX IF NOT EXISTS productinsight_brands ON product_insight USING gin (brands);
CREATE INDEX IF NOT EXISTS productinsight_value_tag ON product_insight USING btree (value_tag);
CREATE INDEX IF NOT EXISTS productinsight_value ON product_insight USING btree (value);
CREATE INDEX IF NOT EXISTS productinsight_source_image ON product_insight USING btree (source_image);
CREATE INDEX IF NOT EXISTS productinsight_automatic_processing ON product_insight USING btree (automatic_processing);
CREATE INDEX IF NOT EXISTS productinsight_server_type ON product_insight USING btree (server_type);
CREATE INDEX IF NOT EXISTS productinsight_unique_scans_n ON product_insight USING btree (unique_scans_n);
CREATE INDEX IF NOT EXISTS productinsight_reserved_barcode ON product_insight USING btree (reserved_barcode);
CREATE INDEX IF NOT EXISTS productinsight_predictor ON product_insight USING btree (predictor);
CREATE INDEX IF NOT EXISTS productinsight_campaign ON product_insight USING gin (campaign);
CREATE INDEX IF NOT EXISTS product_insight_lc ON product_insight USING gin (lc);
CREATE INDEX IF NOT EXISTS product_insight_with_image ON product_insight USING btree (with_image);

CREATE TABLE IF NOT EXISTS annotation_vote (
    id uuid NOT NULL PRIMARY KEY,
    insight_id uuid NOT NULL REFERENCES product_insight(id) ON DELETE CASCADE,
    username text,
    value integer NOT NULL,
    device_id text NOT NULL,
    "timestamp" timestamp without time zone NOT NULL
);

CREATE INDEX IF NOT EXISTS annotationvote_insight_id ON annotation_vote USING btree (insight_id);
CREATE INDEX IF NOT EXISTS annotationvote_username ON annotation_vote USING btree (username);
CREATE INDEX IF NOT EXISTS annotationvote_device_id ON annotation_vote USING btree (device_id);

CREATE TABLE IF NOT EXISTS prediction (
    id serial PRIMARY KEY,
    barcode character varying(100) NOT NULL,
    type character varying(256) NOT NULL,
    data jsonb NOT NULL,
    "timestamp" timestamp without time zone NOT NULL,
    value_tag text,
    value text,
    source_image text,
    automatic_processing boolean,
    predictor character varying(100),
    predictor_version character varying(100),
    confidence real,
    server_type character varying(10) NOT NULL
);

CREATE INDEX IF NOT EXISTS prediction_barcode ON prediction USING btree (barcode);
CREATE INDEX IF NOT EXISTS prediction_type ON prediction USING btree (type);
CREATE INDEX IF NOT EXISTS prediction_timestamp ON prediction USING btree ("timestamp");
CREATE INDEX IF NOT EXISTS prediction_server_type ON prediction USING btree (server_type);

CREATE TABLE IF NOT EXISTS image (
    id serial PRIMARY KEY,
    barcode character varying(100) NOT NULL,
    uploaded_at timestamp without time zone,
    image_id character varying(50) NOT NULL,
    source_image text NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    deleted boolean NOT NULL,
    server_type character varying(10),
    fingerprint bigint
);

CREATE INDEX IF NOT EXISTS imagemodel_barcode ON image USING btree (barcode);
CREATE INDEX IF NOT EXISTS imagemodel_uploaded_at ON image USING btree (uploaded_at);
CREATE INDEX IF NOT EXISTS imagemodel_image_id ON image USING btree (image_id);
CREATE INDEX IF NOT EXISTS imagemodel_source_image ON image USING btree (source_image);
CREATE INDEX IF NOT EXISTS imagemodel_deleted ON image USING btree (deleted);
CREATE INDEX IF NOT EXISTS imagemodel_server_type ON image USING btree (server_type);
CREATE INDEX IF NOT EXISTS imagemodel_fingerprint ON image USING btree (fingerprint);

CREATE TABLE IF NOT EXISTS image_prediction (
    id serial PRIMARY KEY,
    type character varying(256) NOT NULL,
    model_name character varying(100) NOT NULL,
    model_version character varying(256) NOT NULL,
    data jsonb NOT NULL,
    "timestamp" timestamp without time zone,
    image_id integer NOT NULL REFERENCES image(id),
    max_confidence real
);

CREATE INDEX IF NOT EXISTS imageprediction_image_id ON image_prediction USING btree (image_id);
CREATE INDEX IF NOT EXISTS imageprediction_model_name ON image_prediction USING btree (model_name);
CREATE INDEX IF NOT EXISTS imageprediction_model_version ON image_prediction USING btree (model_version);

CREATE TABLE IF NOT EXISTS logo_annotation (
    id serial PRIMARY KEY,
    image_prediction_id integer NOT NULL REFERENCES image_prediction(id),
    index integer NOT NULL,
    bounding_box jsonb NOT NULL,
    score real NOT NULL,
    annotation_value character varying(255),
    annotation_value_tag character varying(255),
    taxonomy_value character varying(255),
    annotation_type character varying(255),
    username text,
    completed_at timestamp without time zone,
    nearest_neighbors jsonb,
    barcode character varying(100),
    source_image text,
    text text,
    server_type character varying(10)
);

CREATE INDEX IF NOT EXISTS logoannotation_image_prediction_id ON logo_annotation USING btree (image_prediction_id);
CREATE INDEX IF NOT EXISTS logoannotation_annotation_value ON logo_annotation USING btree (annotation_value);
CREATE INDEX IF NOT EXISTS logoannotation_annotation_value_tag ON logo_annotation USING btree (annotation_value_tag);
CREATE INDEX IF NOT EXISTS logoannotation_taxonomy_value ON logo_annotation USING btree (taxonomy_value);
CREATE INDEX IF NOT EXISTS logoannotation_annotation_type ON logo_annotation USING btree (annotation_type);
CREATE INDEX IF NOT EXISTS logoannotation_username ON logo_annotation USING btree (username);
CREATE INDEX IF NOT EXISTS logoannotation_completed_at ON logo_annotation USING btree (completed_at);
CREATE INDEX IF NOT EXISTS logoannotation_barcode ON logo_annotation USING btree (barcode);
CREATE INDEX IF NOT EXISTS logoannotation_source_image ON logo_annotation USING btree (source_image);
CREATE INDEX IF NOT EXISTS logo_annotation_server_type ON logo_annotation USING btree (server_type);

CREATE TABLE IF NOT EXISTS logo_confidence_threshold (
    id serial PRIMARY KEY,
    type character varying(255),
    value character varying(255),
    threshold real NOT NULL
);

CREATE TABLE IF NOT EXISTS embedding.logo_embedding (
    logo_id integer NOT NULL PRIMARY KEY REFERENCES logo_annotation(id) ON DELETE CASCADE,
    embedding bytea NOT NULL
);

CREATE TABLE IF NOT EXISTS embedding.image_embedding (
    image_id integer NOT NULL PRIMARY KEY REFERENCES image(id) ON DELETE CASCADE,
    embedding bytea NOT NULL
);
