//! Product reads: the product (API v2) and its product type (API v3.4, spec pipeline §8.2).

use super::{parse_product_value, PoError, ProductOpener, PRODUCT_TYPE_TIMEOUT, READ_TIMEOUT};
use crate::types::{Product, ServerType};
use reqwest::Method;
use serde_json::Value;

impl ProductOpener {
    /// The product as Product Opener has it now, `None` when it does not exist there.
    /// Images are converted to the flat schema.
    pub async fn get_product(
        &self,
        barcode: &str,
        server_type: ServerType,
    ) -> Result<Option<Product>, PoError> {
        let action = format!("reading product {barcode} ({server_type})");
        let Some(json) = self.get_product_json(barcode, server_type, &[]).await? else {
            return Ok(None);
        };
        parse_product_value(json, Some(server_type))
            .map(Some)
            .map_err(|e| PoError::protocol(&action, e.to_string()))
    }

    /// The raw `product` object of API v2 (only `fields` when not empty), `None` when
    /// the product does not exist.
    pub async fn get_product_json(
        &self,
        barcode: &str,
        server_type: ServerType,
        fields: &[&str],
    ) -> Result<Option<Value>, PoError> {
        let action = format!("reading product {barcode} ({server_type})");
        let mut url = self.api(server_type, &format!("/api/v2/product/{barcode}"));
        if !fields.is_empty() {
            // Product Opener does not understand escaped commas.
            url.push_str("?fields=");
            url.push_str(&fields.join(","));
        }
        let response = self
            .request(Method::GET, &url, READ_TIMEOUT)
            .send()
            .await
            .map_err(|e| PoError::transport(&action, e))?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        let body = response
            .text()
            .await
            .map_err(|e| PoError::transport(&action, e))?;
        if status != 200 {
            return Err(PoError::status(&action, status, body));
        }
        let mut json: Value =
            serde_json::from_str(&body).map_err(|e| PoError::protocol(&action, e.to_string()))?;
        if json.get("status_verbose").and_then(Value::as_str) != Some("product found") {
            return Ok(None);
        }
        match json.get_mut("product").map(Value::take) {
            Some(product @ Value::Object(_)) => Ok(Some(product)),
            _ => Err(PoError::protocol(&action, "`product` is missing")),
        }
    }

    /// The product's `product_type` (`food`, `beauty`, …) as seen from flavor
    /// `server_type`: Product Opener names the other flavor's type when the product
    /// lives there. `None`: the product exists nowhere.
    pub async fn get_product_type(
        &self,
        barcode: &str,
        server_type: ServerType,
    ) -> Result<Option<String>, PoError> {
        let action = format!("reading the product type of {barcode} ({server_type})");
        let url = self.api(
            server_type,
            &format!("/api/v3.4/product/{barcode}?fields=product_type"),
        );
        let response = self
            .request(Method::GET, &url, PRODUCT_TYPE_TIMEOUT)
            .send()
            .await
            .map_err(|e| PoError::transport(&action, e))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| PoError::transport(&action, e))?;
        if status != 200 && status != 404 {
            return Err(PoError::status(&action, status, body));
        }
        let json: Value =
            serde_json::from_str(&body).map_err(|e| PoError::protocol(&action, e.to_string()))?;
        if json.get("status").and_then(Value::as_str) == Some("success") {
            return json
                .pointer("/product/product_type")
                .and_then(Value::as_str)
                .map(|t| Some(t.to_string()))
                .ok_or_else(|| PoError::protocol(&action, "`product.product_type` is missing"));
        }
        let switched = json
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|e| e.pointer("/field/id").and_then(Value::as_str) == Some("product_type"))
            .and_then(|e| e.pointer("/field/value"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(switched)
    }
}
