//! Read models of Robotoff's tables as the API returns them: every column, nothing
//! interpreted (an unknown type string or a NULL list is passed through as stored).

use chrono::NaiveDateTime;
use uuid::Uuid;

/// A `product_insight` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InsightRow {
    pub id: Uuid,
    pub barcode: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub data: serde_json::Value,
    pub timestamp: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub annotation: Option<i32>,
    pub annotated_result: Option<i32>,
    pub n_votes: i32,
    pub username: Option<String>,
    pub countries: Option<serde_json::Value>,
    pub brands: Option<serde_json::Value>,
    pub process_after: Option<NaiveDateTime>,
    pub value_tag: Option<String>,
    pub value: Option<String>,
    pub source_image: Option<String>,
    pub automatic_processing: bool,
    pub server_type: Option<String>,
    pub unique_scans_n: i32,
    pub reserved_barcode: bool,
    pub predictor: Option<String>,
    pub predictor_version: Option<String>,
    pub campaign: Option<serde_json::Value>,
    pub confidence: Option<f32>,
    pub bounding_box: Option<serde_json::Value>,
    pub lc: Option<Vec<String>>,
    pub with_image: Option<bool>,
}

/// A `prediction` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PredictionRow {
    pub id: i32,
    pub barcode: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub data: serde_json::Value,
    pub timestamp: NaiveDateTime,
    pub value_tag: Option<String>,
    pub value: Option<String>,
    pub source_image: Option<String>,
    pub automatic_processing: Option<bool>,
    pub predictor: Option<String>,
    pub predictor_version: Option<String>,
    pub confidence: Option<f32>,
    pub server_type: String,
}

/// An `image` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ImageRow {
    pub id: i32,
    pub barcode: String,
    pub uploaded_at: Option<NaiveDateTime>,
    pub image_id: String,
    pub source_image: String,
    pub width: i32,
    pub height: i32,
    pub deleted: bool,
    pub server_type: Option<String>,
    pub fingerprint: Option<i64>,
}

/// An `image_prediction` row with its image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePredictionRow {
    pub id: i32,
    pub kind: String,
    pub model_name: String,
    pub model_version: String,
    pub data: serde_json::Value,
    pub timestamp: Option<NaiveDateTime>,
    pub image: ImageRow,
    pub max_confidence: Option<f32>,
}

/// A `logo_annotation` row with its image prediction and image.
#[derive(Debug, Clone, PartialEq)]
pub struct LogoRow {
    pub id: i32,
    pub image_prediction: ImagePredictionRow,
    pub index: i32,
    pub bounding_box: serde_json::Value,
    pub score: f32,
    pub annotation_value: Option<String>,
    pub annotation_value_tag: Option<String>,
    pub taxonomy_value: Option<String>,
    pub annotation_type: Option<String>,
    pub username: Option<String>,
    pub completed_at: Option<NaiveDateTime>,
    pub nearest_neighbors: Option<serde_json::Value>,
    pub barcode: Option<String>,
    pub source_image: Option<String>,
    pub text: Option<String>,
    pub server_type: Option<String>,
}

/// Columns of a logo joined with its image prediction (`ip_`) and image (`im_`).
pub const LOGO_JOIN_COLUMNS: &str = "l.id, l.index, l.bounding_box, l.score, l.annotation_value, \
    l.annotation_value_tag, l.taxonomy_value, l.annotation_type, l.username, l.completed_at, \
    l.nearest_neighbors, l.barcode, l.source_image, l.text, l.server_type, \
    ip.id AS ip_id, ip.type AS ip_type, ip.model_name AS ip_model_name, \
    ip.model_version AS ip_model_version, ip.data AS ip_data, ip.timestamp AS ip_timestamp, \
    ip.max_confidence AS ip_max_confidence, \
    im.id AS im_id, im.barcode AS im_barcode, im.uploaded_at AS im_uploaded_at, \
    im.image_id AS im_image_id, im.source_image AS im_source_image, im.width AS im_width, \
    im.height AS im_height, im.deleted AS im_deleted, im.server_type AS im_server_type, \
    im.fingerprint AS im_fingerprint";

/// `FROM` clause matching [`LOGO_JOIN_COLUMNS`].
pub const LOGO_JOIN_FROM: &str = " FROM logo_annotation l \
    JOIN image_prediction ip ON ip.id = l.image_prediction_id \
    JOIN image im ON im.id = ip.image_id";

/// Columns of an image prediction joined with its image (`im_`).
pub const IMAGE_PREDICTION_JOIN_COLUMNS: &str = "ip.id AS ip_id, ip.type AS ip_type, \
    ip.model_name AS ip_model_name, ip.model_version AS ip_model_version, ip.data AS ip_data, \
    ip.timestamp AS ip_timestamp, ip.max_confidence AS ip_max_confidence, \
    im.id AS im_id, im.barcode AS im_barcode, im.uploaded_at AS im_uploaded_at, \
    im.image_id AS im_image_id, im.source_image AS im_source_image, im.width AS im_width, \
    im.height AS im_height, im.deleted AS im_deleted, im.server_type AS im_server_type, \
    im.fingerprint AS im_fingerprint";

fn image_from(row: &sqlx::postgres::PgRow) -> Result<ImageRow, sqlx::Error> {
    use sqlx::Row;
    Ok(ImageRow {
        id: row.try_get("im_id")?,
        barcode: row.try_get("im_barcode")?,
        uploaded_at: row.try_get("im_uploaded_at")?,
        image_id: row.try_get("im_image_id")?,
        source_image: row.try_get("im_source_image")?,
        width: row.try_get("im_width")?,
        height: row.try_get("im_height")?,
        deleted: row.try_get("im_deleted")?,
        server_type: row.try_get("im_server_type")?,
        fingerprint: row.try_get("im_fingerprint")?,
    })
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for ImagePredictionRow {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(ImagePredictionRow {
            id: row.try_get("ip_id")?,
            kind: row.try_get("ip_type")?,
            model_name: row.try_get("ip_model_name")?,
            model_version: row.try_get("ip_model_version")?,
            data: row.try_get("ip_data")?,
            timestamp: row.try_get("ip_timestamp")?,
            image: image_from(row)?,
            max_confidence: row.try_get("ip_max_confidence")?,
        })
    }
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for LogoRow {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(LogoRow {
            id: row.try_get("id")?,
            image_prediction: ImagePredictionRow::from_row(row)?,
            index: row.try_get("index")?,
            bounding_box: row.try_get("bounding_box")?,
            score: row.try_get("score")?,
            annotation_value: row.try_get("annotation_value")?,
            annotation_value_tag: row.try_get("annotation_value_tag")?,
            taxonomy_value: row.try_get("taxonomy_value")?,
            annotation_type: row.try_get("annotation_type")?,
            username: row.try_get("username")?,
            completed_at: row.try_get("completed_at")?,
            nearest_neighbors: row.try_get("nearest_neighbors")?,
            barcode: row.try_get("barcode")?,
            source_image: row.try_get("source_image")?,
            text: row.try_get("text")?,
            server_type: row.try_get("server_type")?,
        })
    }
}
