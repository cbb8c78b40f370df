//! Product Opener's ingredient parser (spec pipeline §8.2): `PATCH /api/v3/product/test`
//! on the food flavor parses a text without saving anything.

use super::{PoError, ProductOpener, READ_TIMEOUT};
use crate::types::ServerType;
use reqwest::Method;
use serde_json::{json, Value};

impl ProductOpener {
    /// The ingredients Product Opener reads in `text` written in `lang` (its
    /// `product.ingredients` list: id, text, percentages, nested `ingredients`).
    pub async fn parse_ingredients(&self, text: &str, lang: &str) -> Result<Vec<Value>, PoError> {
        let action = format!("parsing ingredients ({lang})");
        let url = self.api(ServerType::Off, "/api/v3/product/test");
        let body = json!({
            "fields": "ingredients",
            "lc": lang,
            "tags_lc": lang,
            "product": {"lang": lang, format!("ingredients_text_{lang}"): text},
        });
        let response = self
            .request(Method::PATCH, &url, READ_TIMEOUT)
            .json(&body)
            .send()
            .await
            .map_err(|e| PoError::transport(&action, e))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| PoError::transport(&action, e))?;
        if !(200..300).contains(&status) {
            return Err(PoError::status(&action, status, text));
        }
        let json: Value =
            serde_json::from_str(&text).map_err(|e| PoError::protocol(&action, e.to_string()))?;
        if json.get("status").and_then(Value::as_str) != Some("success") {
            return Err(PoError::protocol(
                &action,
                format!("status {}", json.get("status").unwrap_or(&Value::Null)),
            ));
        }
        Ok(json
            .pointer("/product/ingredients")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }
}
