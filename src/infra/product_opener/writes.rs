//! Product writes (spec api-db §4.2, pipeline §8.3): form updates, v3 patches, image
//! selection and unselection, moving an image to the trash.

use super::client::Sent;
use super::{Credentials, PoError, ProductOpener, CROP_TIMEOUT, WRITE_TIMEOUT};
use crate::types::ServerType;
use crate::types::{ProductEdit, SelectImage};
use reqwest::header::COOKIE;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

impl ProductOpener {
    /// Sends one annotation edit for product `barcode`.
    pub async fn apply(
        &self,
        barcode: &str,
        server_type: ServerType,
        edit: &ProductEdit,
        creds: &Credentials,
    ) -> Result<(), PoError> {
        match edit {
            ProductEdit::UpdateFields(fields) => {
                self.update_product(barcode, server_type, fields, creds)
                    .await
            }
            ProductEdit::PatchProduct(body) => {
                self.patch_product(barcode, server_type, body.clone(), creds)
                    .await
            }
            ProductEdit::SelectImage(select) => {
                self.select_image(barcode, server_type, select, creds).await
            }
            ProductEdit::UnselectImage { image_key } => {
                self.unselect_image(barcode, server_type, image_key, creds)
                    .await
            }
        }
    }

    /// `POST /cgi/product_jqm2.pl` with `fields` (`code`, `comment`, the changed
    /// fields) and the credentials. Any 2xx answer with JSON is a success; a status
    /// other than `fields saved` is only logged, as Robotoff does.
    pub async fn update_product(
        &self,
        barcode: &str,
        server_type: ServerType,
        fields: &[(String, String)],
        creds: &Credentials,
    ) -> Result<(), PoError> {
        let action = format!("updating product {barcode} ({server_type})");
        let mut form: Vec<(String, String)> = fields.to_vec();
        let cookie = self.add_credentials(&action, creds, &mut form)?;
        let url = self.api(server_type, "/cgi/product_jqm2.pl");
        let json = self
            .send_json(
                &action,
                self.authed(Method::POST, &url, WRITE_TIMEOUT, cookie)
                    .form(&form),
            )
            .await?;
        let status = json.get("status_verbose").and_then(Value::as_str);
        if status != Some("fields saved") {
            tracing::warn!(barcode, %server_type, status = ?status, "unexpected status of a product update");
        }
        Ok(())
    }

    /// `PATCH /api/v3/product/{barcode}` with a JSON body (credentials added to it);
    /// `errors` in the answer make it fail.
    pub async fn patch_product(
        &self,
        barcode: &str,
        server_type: ServerType,
        mut body: Value,
        creds: &Credentials,
    ) -> Result<(), PoError> {
        let action = format!("patching product {barcode} ({server_type})");
        let mut extra = Vec::new();
        let cookie = self.add_credentials(&action, creds, &mut extra)?;
        if let Value::Object(map) = &mut body {
            for (k, v) in extra {
                map.insert(k, Value::String(v));
            }
        }
        let url = self.api(server_type, &format!("/api/v3/product/{barcode}"));
        let json = self
            .send_json(
                &action,
                self.authed(Method::PATCH, &url, WRITE_TIMEOUT, cookie)
                    .json(&body),
            )
            .await?;
        match json.get("errors") {
            Some(Value::Array(errors)) if !errors.is_empty() => Err(PoError::protocol(
                &action,
                format!(
                    "errors during product update: {}",
                    Value::Array(errors.clone())
                ),
            )),
            _ => Ok(()),
        }
    }

    /// `POST /cgi/product_image_crop.pl`: selects uploaded image `imgid` as `id`, with
    /// an optional rotation and crop in full-image coordinates.
    pub async fn select_image(
        &self,
        barcode: &str,
        server_type: ServerType,
        select: &SelectImage,
        creds: &Credentials,
    ) -> Result<(), PoError> {
        let action = format!(
            "selecting image {} as {} of product {barcode} ({server_type})",
            select.image_id, select.image_key
        );
        let mut form: Vec<(String, String)> = vec![
            ("code".into(), barcode.to_string()),
            ("imgid".into(), select.image_id.clone()),
            ("comment".into(), select.comment.clone()),
            ("coordinates_image_size".into(), "full".into()),
        ];
        match select.angle {
            None | Some(0) => {}
            Some(angle @ (90 | 180 | 270)) => form.push(("angle".into(), angle.to_string())),
            Some(other) => {
                return Err(PoError::InvalidRequest {
                    action,
                    detail: format!("invalid value for rotation angle: {other}"),
                })
            }
        }
        if let Some(crop) = &select.crop {
            form.extend(
                crop.form_fields()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v)),
            );
        }
        form.push(("id".into(), select.image_key.clone()));
        let cookie = self.add_credentials(&action, creds, &mut form)?;
        let url = self.api(server_type, "/cgi/product_image_crop.pl");
        self.send(
            &action,
            self.authed(Method::POST, &url, CROP_TIMEOUT, cookie)
                .form(&form),
        )
        .await?;
        Ok(())
    }

    /// `POST /cgi/product_image_unselect.pl`: unselects `image_key` (`front_fr`).
    pub async fn unselect_image(
        &self,
        barcode: &str,
        server_type: ServerType,
        image_key: &str,
        creds: &Credentials,
    ) -> Result<(), PoError> {
        let action = format!("unselecting image {image_key} of product {barcode} ({server_type})");
        let mut form: Vec<(String, String)> = vec![
            ("code".into(), barcode.to_string()),
            ("id".into(), image_key.to_string()),
        ];
        let cookie = self.add_credentials(&action, creds, &mut form)?;
        let url = self.api(server_type, "/cgi/product_image_unselect.pl");
        self.send(
            &action,
            self.authed(Method::POST, &url, WRITE_TIMEOUT, cookie)
                .form(&form),
        )
        .await?;
        Ok(())
    }

    /// `POST /cgi/product_image_move.pl` (multipart): moves uploaded image `image_id`
    /// to the trash. An answer whose `status` is not `ok` is only logged.
    pub async fn move_image_to_trash(
        &self,
        barcode: &str,
        server_type: ServerType,
        image_id: &str,
        creds: &Credentials,
    ) -> Result<(), PoError> {
        let action =
            format!("moving image {image_id} of product {barcode} ({server_type}) to the trash");
        let mut fields: Vec<(String, String)> = vec![
            ("type".into(), "edit".into()),
            ("code".into(), barcode.to_string()),
            ("imgids".into(), image_id.to_string()),
            ("action".into(), "process".into()),
            ("move_to_override".into(), "trash".into()),
        ];
        let cookie = self.add_credentials(&action, creds, &mut fields)?;
        let mut multipart = reqwest::multipart::Form::new();
        for (k, v) in fields {
            multipart = multipart.text(k, v);
        }
        let url = self.api(server_type, "/cgi/product_image_move.pl");
        let json = self
            .send_json(
                &action,
                self.authed(Method::POST, &url, WRITE_TIMEOUT, cookie)
                    .multipart(multipart),
            )
            .await?;
        if json.get("status").and_then(Value::as_str) != Some("ok") {
            tracing::warn!(barcode, image_id, error = ?json.get("error"), "image was not moved to the trash");
        }
        Ok(())
    }

    /// Adds password credentials to `fields`; returns the session cookie to send
    /// instead, if that is what the caller has.
    fn add_credentials(
        &self,
        action: &str,
        creds: &Credentials,
        fields: &mut Vec<(String, String)>,
    ) -> Result<Option<SecretString>, PoError> {
        match self.resolve(action, creds)? {
            Sent::Cookie(cookie) => Ok(Some(cookie)),
            Sent::Fields { user_id, password } => {
                fields.push(("user_id".into(), user_id));
                fields.push(("password".into(), password.expose_secret().to_string()));
                Ok(None)
            }
        }
    }

    /// A request carrying the session cookie when there is one.
    fn authed(
        &self,
        method: Method,
        url: &str,
        timeout: std::time::Duration,
        cookie: Option<SecretString>,
    ) -> reqwest::RequestBuilder {
        let rb = self.request(method, url, timeout);
        match cookie {
            Some(c) => rb.header(COOKIE, format!("session={}", c.expose_secret())),
            None => rb,
        }
    }

    /// Sends a request; a 2xx answer's body is returned.
    async fn send(&self, action: &str, rb: reqwest::RequestBuilder) -> Result<String, PoError> {
        let response = rb.send().await.map_err(|e| PoError::transport(action, e))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| PoError::transport(action, e))?;
        if !status.is_success() {
            return Err(PoError::status(action, status.as_u16(), body));
        }
        Ok(body)
    }

    /// As [`Self::send`], the body parsed as JSON.
    async fn send_json(&self, action: &str, rb: reqwest::RequestBuilder) -> Result<Value, PoError> {
        let body = self.send(action, rb).await?;
        serde_json::from_str(&body)
            .map_err(|e| PoError::protocol(action, format!("{e}; body: {body}")))
    }
}
