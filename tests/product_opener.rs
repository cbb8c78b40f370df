//! The Product Opener client against a local stand-in: reads, every write with its
//! exact fields and credentials, and how failures are told apart.

mod common;

use common::po::{form, ProductOpenerStandIn};
use robotoff::annotation::SelectImage;
use robotoff::config::Settings;
use robotoff::infra::db::products;
use robotoff::infra::product_opener::{
    refresh_product, Credentials, PoError, ProductOpener, Refreshed,
};
use robotoff::types::CropBox;
use robotoff::types::ServerType;
use serde_json::json;
use sqlx::PgPool;

fn settings_for(url: &str) -> Settings {
    let mut s = common::settings("postgres://unused/db");
    for st in ServerType::ALL {
        let f = match st {
            ServerType::Off => &mut s.product_opener.off,
            ServerType::Obf => &mut s.product_opener.obf,
            ServerType::Opff => &mut s.product_opener.opff,
            ServerType::Opf => &mut s.product_opener.opf,
            ServerType::OffPro => &mut s.product_opener.off_pro,
        };
        f.api_url = url.to_string();
        f.images_url = url.to_string();
        f.static_url = url.to_string();
    }
    s.product_opener.user = "robotoff".into();
    s.product_opener.password = "robotoff-secret".into();
    s
}

fn client(url: &str) -> ProductOpener {
    ProductOpener::new(&settings_for(url).product_opener).expect("client")
}

/// A port nothing listens on.
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn reads_products_in_the_flat_image_schema() {
    let po = ProductOpenerStandIn::start().await;
    po.set_product(json!({
        "code": "3456300016208", "product_type": "food", "lang": "fr", "categories_tags": ["en:biscuits"],
        "emb_codes": "EMB 1", "languages_codes": {"fr": 3},
        "images": {
            "uploaded": {"1": {"sizes": {"full": {"w": 1000, "h": 2000, "url": "https://x/1.jpg"}}, "uploaded_t": 1600000000, "uploader": "a"}},
            "selected": {"front": {"fr": {"imgid": "1", "rev": "4", "sizes": {}, "generation": {"angle": "90"}}}}
        }
    }));
    let c = client(&po.url);
    let p = c
        .get_product("3456300016208", ServerType::Off)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(p.categories_tags, vec!["en:biscuits".to_string()]);
    assert_eq!(p.emb_codes.as_deref(), Some("EMB 1"));
    assert_eq!(p.image_size("1"), Some((1000, 2000)));
    assert_eq!(
        p.images.get("front_fr"),
        Some(&json!({"imgid": "1", "rev": "4", "sizes": {}, "angle": "90"}))
    );
    assert_eq!(
        c.get_product("0000", ServerType::Off).await.expect("read"),
        None
    );

    let reqs = po.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/api/v2/product/3456300016208");
    assert_eq!(reqs[0].header("user-agent"), Some("Robotoff Live Analysis"));
    assert_eq!(reqs[0].header("authorization"), None);

    let fields = c
        .get_product_json("3456300016208", ServerType::Off, &["code", "images"])
        .await
        .expect("read");
    assert!(fields.is_some());
    assert_eq!(
        po.requests()[2].query.as_deref(),
        Some("fields=code,images")
    );
}

/// Robotoff's `tests/unit/test_off.py::TestGetProductType`.
#[tokio::test]
async fn product_types() {
    let po = ProductOpenerStandIn::start().await;
    po.set_product_type("3596710465248", Ok("food"));
    po.set_product_type("3596710465249", Err("beauty"));
    let c = client(&po.url);
    let cases = [
        ("3596710465248", Some("food")),
        ("3596710465249", Some("beauty")),
        ("3596710465250", None),
    ];
    for (code, expected) in cases {
        let got = c
            .get_product_type(code, ServerType::Off)
            .await
            .expect("lookup");
        assert_eq!(got.as_deref(), expected, "{code}");
    }
    assert_eq!(
        po.requests()[0].path,
        "/api/v3.4/product/3596710465248",
        "v3.4 API"
    );
    assert_eq!(
        po.requests()[0].query.as_deref(),
        Some("fields=product_type")
    );
    po.set_read_status(Some(500));
    let err = c
        .get_product_type("3596710465248", ServerType::Off)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PoError::ServerError { status: 500, .. }),
        "{err}"
    );
    let err = client(&closed_port_url().await)
        .get_product_type("3596710465248", ServerType::Off)
        .await
        .unwrap_err();
    assert!(matches!(err, PoError::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn form_updates_carry_the_right_credentials() {
    let po = ProductOpenerStandIn::start().await;
    let c = client(&po.url);
    let fields = vec![
        ("code".to_string(), "123".to_string()),
        (
            "comment".to_string(),
            "[robotoff] Adding brand 'Lu'".to_string(),
        ),
        ("add_brands".to_string(), "Lu".to_string()),
    ];
    c.update_product("123", ServerType::Obf, &fields, &Credentials::Robotoff)
        .await
        .expect("robotoff account");
    c.update_product(
        "123",
        ServerType::Obf,
        &fields,
        &Credentials::Password {
            user_id: "a".into(),
            password: "b".into(),
        },
    )
    .await
    .expect("user password");
    c.update_product(
        "123",
        ServerType::Obf,
        &fields,
        &Credentials::Session("user_id&alice&user_session&XYZ".into()),
    )
    .await
    .expect("session cookie");
    let writes = po.writes();
    assert_eq!(writes.len(), 3);
    assert!(writes
        .iter()
        .all(|w| w.path == "/cgi/product_jqm2.pl" && w.method == "POST"));
    let base =
        json!({"code": "123", "comment": "[robotoff] Adding brand 'Lu'", "add_brands": "Lu"});
    let mut with_robotoff = base.clone();
    with_robotoff["user_id"] = json!("robotoff");
    with_robotoff["password"] = json!("robotoff-secret");
    assert_eq!(writes[0].form_map(), form(with_robotoff));
    let mut with_user = base.clone();
    with_user["user_id"] = json!("a");
    with_user["password"] = json!("b");
    assert_eq!(writes[1].form_map(), form(with_user));
    assert_eq!(writes[2].form_map(), form(base));
    assert_eq!(
        writes[2].header("cookie"),
        Some("session=user_id&alice&user_session&XYZ")
    );
    assert_eq!(writes[0].header("cookie"), None);
    assert_eq!(
        writes[0].header("user-agent"),
        Some("Robotoff Live Analysis")
    );
}

#[tokio::test]
async fn no_password_means_nothing_is_sent() {
    let po = ProductOpenerStandIn::start().await;
    let mut s = settings_for(&po.url);
    s.product_opener.password = String::new().into();
    let c = ProductOpener::new(&s.product_opener).expect("client");
    let fields = vec![("code".to_string(), "1".to_string())];
    let err = c
        .update_product("1", ServerType::Off, &fields, &Credentials::Robotoff)
        .await
        .unwrap_err();
    assert!(matches!(err, PoError::NoCredentials { .. }), "{err}");
    let err = c
        .update_product(
            "1",
            ServerType::Off,
            &fields,
            &Credentials::Password {
                user_id: "a".into(),
                password: String::new().into(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PoError::NoCredentials { .. }), "{err}");
    assert!(!err.is_retryable());
    assert!(po.requests().is_empty());
}

#[tokio::test]
async fn staging_basic_auth_is_sent_with_every_request() {
    let po = ProductOpenerStandIn::start().await;
    let mut s = settings_for(&po.url);
    s.product_opener.request_auth = "off:off".into();
    let c = ProductOpener::new(&s.product_opener).expect("client");
    let _ = c.get_product("1", ServerType::Off).await.expect("read");
    c.unselect_image("1", ServerType::Off, "front_fr", &Credentials::Robotoff)
        .await
        .expect("unselect");
    for r in po.requests() {
        assert_eq!(
            r.header("authorization"),
            Some("Basic b2ZmOm9mZg=="),
            "{}",
            r.path
        );
    }
}

#[tokio::test]
async fn failures_are_told_apart() {
    let po = ProductOpenerStandIn::start().await;
    let c = client(&po.url);
    let fields = vec![("code".to_string(), "1".to_string())];
    for (status, retryable) in [
        (500, true),
        (502, true),
        (503, true),
        (400, false),
        (403, false),
        (404, false),
    ] {
        po.set_write_status(Some(status));
        let err = c
            .update_product("1", ServerType::Off, &fields, &Credentials::Robotoff)
            .await
            .unwrap_err();
        assert_eq!(err.is_retryable(), retryable, "{status}: {err}");
        match err {
            PoError::ServerError { status: s, .. } | PoError::Rejected { status: s, .. } => {
                assert_eq!(s, status)
            }
            other => panic!("{status}: {other}"),
        }
    }
    po.set_write_status(None);
    po.set_read_status(Some(503));
    let err = c.get_product("1", ServerType::Off).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");

    let down = client(&closed_port_url().await);
    let err = down
        .update_product("1", ServerType::Off, &fields, &Credentials::Robotoff)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PoError::Unreachable { .. }) && err.is_retryable(),
        "{err}"
    );
    let err = down.get_product("1", ServerType::Off).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn v3_patch_adds_credentials_to_the_body_and_fails_on_errors() {
    let po = ProductOpenerStandIn::start().await;
    let c = client(&po.url);
    let body = json!({"product": {"packagings_add": [{"shape": {"id": "en:bottle"}}]}, "fields": "none", "comment": "c"});
    c.patch_product("123", ServerType::Off, body.clone(), &Credentials::Robotoff)
        .await
        .expect("patch");
    let w = &po.writes()[0];
    assert_eq!(
        (w.method.as_str(), w.path.as_str()),
        ("PATCH", "/api/v3/product/123")
    );
    let mut expected = body.clone();
    expected["user_id"] = json!("robotoff");
    expected["password"] = json!("robotoff-secret");
    assert_eq!(w.json(), expected);

    po.set_patch_errors(Some(json!([{"message": {"id": "invalid_value"}}])));
    let err = c
        .patch_product("123", ServerType::Off, body, &Credentials::Robotoff)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PoError::Protocol { .. }) && !err.is_retryable(),
        "{err}"
    );
}

#[tokio::test]
async fn image_selection_unselection_and_trash() {
    let po = ProductOpenerStandIn::start().await;
    let c = client(&po.url);
    let select = SelectImage {
        image_id: "2".into(),
        image_key: "nutrition_fr".into(),
        angle: Some(90),
        crop: Some(CropBox::new(
            202.98996567726135,
            1164.435088634491,
            990.9706115722656,
            1876.0185241699219,
        )),
        comment: "[robotoff] Selecting image 2 as nutrition_fr".into(),
    };
    c.select_image("123", ServerType::Off, &select, &Credentials::Robotoff)
        .await
        .expect("select");
    let plain = SelectImage {
        angle: Some(0),
        crop: Some(CropBox::new(80.0, 100.0, 400.0, 500.0)),
        ..select.clone()
    };
    c.select_image("123", ServerType::Off, &plain, &Credentials::Robotoff)
        .await
        .expect("select");
    let bad = SelectImage {
        angle: Some(45),
        ..select.clone()
    };
    let err = c
        .select_image("123", ServerType::Off, &bad, &Credentials::Robotoff)
        .await
        .unwrap_err();
    assert!(matches!(err, PoError::InvalidRequest { .. }), "{err}");
    c.unselect_image("123", ServerType::Off, "front_fr", &Credentials::Robotoff)
        .await
        .expect("unselect");
    c.move_image_to_trash("123", ServerType::Off, "3", &Credentials::Robotoff)
        .await
        .expect("move");

    let writes = po.writes();
    assert_eq!(writes.len(), 4, "the invalid angle sends nothing");
    assert_eq!(writes[0].path, "/cgi/product_image_crop.pl");
    assert_eq!(
        writes[0].form_map(),
        form(json!({
            "code": "123", "imgid": "2", "id": "nutrition_fr", "angle": "90",
            "comment": "[robotoff] Selecting image 2 as nutrition_fr", "coordinates_image_size": "full",
            // (y_min, x_min, y_max, x_max) = (202.98…, 1164.43…, 990.97…, 1876.01…)
            "y1": "202.98996567726135", "x1": "1164.435088634491", "y2": "990.9706115722656", "x2": "1876.0185241699219",
            "user_id": "robotoff", "password": "robotoff-secret"
        }))
    );
    let second = writes[1].form_map();
    assert_eq!(second.get("angle"), None);
    assert_eq!(
        (
            second.get("x1"),
            second.get("y1"),
            second.get("x2"),
            second.get("y2")
        ),
        (
            Some(&"100.0".to_string()),
            Some(&"80.0".to_string()),
            Some(&"500.0".to_string()),
            Some(&"400.0".to_string())
        )
    );
    assert_eq!(writes[2].path, "/cgi/product_image_unselect.pl");
    assert_eq!(
        writes[2].form_map(),
        form(
            json!({"code": "123", "id": "front_fr", "user_id": "robotoff", "password": "robotoff-secret"})
        )
    );
    assert_eq!(writes[3].path, "/cgi/product_image_move.pl");
    assert!(writes[3]
        .header("content-type")
        .is_some_and(|t| t.starts_with("multipart/form-data")));
    let body = writes[3].body_text();
    for (name, value) in [
        ("type", "edit"),
        ("code", "123"),
        ("imgids", "3"),
        ("action", "process"),
        ("move_to_override", "trash"),
        ("user_id", "robotoff"),
        ("password", "robotoff-secret"),
    ] {
        assert!(
            body.contains(&format!("name=\"{name}\"\r\n\r\n{value}\r\n")),
            "{name} in {body}"
        );
    }
}

#[tokio::test]
async fn refresh_product_stores_or_removes() {
    let pool = PgPool::connect(&common::fresh_database().await)
        .await
        .expect("pool");
    let po = ProductOpenerStandIn::start().await;
    let c = client(&po.url);
    po.set_product(json!({"code": "42", "product_name": "Tea", "categories_tags": ["en:teas"]}));
    assert_eq!(
        refresh_product(&c, &pool, "42", ServerType::Off)
            .await
            .expect("refresh"),
        Refreshed::Stored
    );
    let mut conn = pool.acquire().await.expect("conn");
    let stored = products::get(&mut conn, "42", ServerType::Off)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.product_name.as_deref(), Some("Tea"));

    po.set_read_status(Some(502));
    assert!(refresh_product(&c, &pool, "42", ServerType::Off)
        .await
        .is_err());
    assert!(
        products::get(&mut conn, "42", ServerType::Off)
            .await
            .expect("get")
            .is_some(),
        "an outage removes nothing"
    );

    po.set_read_status(None);
    let po2 = ProductOpenerStandIn::start().await;
    let c2 = client(&po2.url);
    assert_eq!(
        refresh_product(&c2, &pool, "42", ServerType::Off)
            .await
            .expect("refresh"),
        Refreshed::Removed { existed: true }
    );
    assert!(products::get(&mut conn, "42", ServerType::Off)
        .await
        .expect("get")
        .is_none());
    assert_eq!(
        refresh_product(&c2, &pool, "42", ServerType::Off)
            .await
            .expect("refresh"),
        Refreshed::Removed { existed: false }
    );
}
