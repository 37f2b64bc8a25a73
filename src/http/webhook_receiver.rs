//! What `POST /webhooks/livechat` accepts: a LiveChat webhook delivery in the v3.5 or v3.6
//! shape (`webhook_id`, `secret_key`, `action`, `organization_id`, `payload`,
//! `additional_data`), checked against the server's webhook secret before anything else is
//! read, so a caller without the secret learns nothing about what a delivery must hold. The
//! secret is compared in constant time and never kept: a [`Delivery`] has no `secret_key`.

use serde_json::{Map, Value};

use crate::config::Secret;

/// The longest `webhook_id` kept (LiveChat's are 32 hex digits).
const MAX_ID: usize = 128;
/// The longest action name (LiveChat's longest is under 40).
const MAX_ACTION: usize = 64;

/// A delivery that passed the secret and shape checks.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// LiveChat's ID of the delivery: the same on each retry, so it stores the event once.
    pub webhook_id: String,
    pub action: String,
    pub organization_id: Option<String>,
    pub payload: Map<String, Value>,
    pub additional_data: Option<Map<String, Value>>,
}

/// Why a delivery was turned away: 401 for the secret, 400 for the shape.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    /// No `secret_key`, or not the server's. Nothing of the body is kept.
    Unauthorized,
    /// Not a delivery LiveChat would send; the text names what is wrong.
    Malformed(String),
}

impl Rejection {
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Unauthorized => 401,
            Rejection::Malformed(_) => 400,
        }
    }

    /// The answer's text: for 401 only that, so a prober learns nothing more.
    pub fn text(&self) -> String {
        match self {
            Rejection::Unauthorized => {
                "unauthorized: not a delivery signed with this server's webhook secret".to_string()
            }
            Rejection::Malformed(why) => format!("bad_request: {why}"),
        }
    }
}

/// Checks `body` against `secret` and reads the delivery.
pub fn parse(body: &[u8], secret: &Secret) -> Result<Delivery, Rejection> {
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        // A body that is not a JSON object cannot carry the secret either; 401 would tell a
        // prober that JSON gets further, so it is a plain 400.
        return Err(Rejection::Malformed(
            "the body is not a JSON object".to_string(),
        ));
    };
    let presented = fields.remove("secret_key");
    let matches = presented
        .as_ref()
        .and_then(Value::as_str)
        .is_some_and(|given| {
            crate::digest::constant_time_eq(given.as_bytes(), secret.expose().as_bytes())
        });
    if !matches {
        return Err(Rejection::Unauthorized);
    }
    let text = |fields: &Map<String, Value>, key: &str, max: usize| -> Result<String, Rejection> {
        match fields.get(key) {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(s.clone()),
            Some(_) => Err(Rejection::Malformed(format!(
                "`{key}` must be a string of 1 to {max} characters"
            ))),
            None => Err(Rejection::Malformed(format!("`{key}` is missing"))),
        }
    };
    let webhook_id = text(&fields, "webhook_id", MAX_ID)?;
    let action = text(&fields, "action", MAX_ACTION)?;
    if !action
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
    {
        return Err(Rejection::Malformed(
            "`action` must be a webhook action name like `incoming_event`".to_string(),
        ));
    }
    let organization_id = match fields.get("organization_id") {
        None | Some(Value::Null) => None,
        Some(_) => Some(text(&fields, "organization_id", MAX_ID)?),
    };
    let payload = match fields.remove("payload") {
        Some(Value::Object(payload)) => payload,
        Some(_) => {
            return Err(Rejection::Malformed(
                "`payload` must be an object".to_string(),
            ));
        }
        None => return Err(Rejection::Malformed("`payload` is missing".to_string())),
    };
    let additional_data = match fields.remove("additional_data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(data)) => Some(data),
        Some(_) => {
            return Err(Rejection::Malformed(
                "`additional_data` must be an object".to_string(),
            ));
        }
    };
    Ok(Delivery {
        webhook_id,
        action,
        organization_id,
        payload,
        additional_data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "s3cret-0123456789abcdef0123456789";

    fn body(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    fn delivery() -> Value {
        json!({
            "webhook_id": "a7b4b5b0a1b2c3d4e5f6a7b8c9d0e1f2",
            "secret_key": SECRET,
            "action": "incoming_event",
            "organization_id": "390e44e6-f1e6-0368c-z6ddb-74g14508c2ex",
            "payload": {"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "event": {"type": "message", "text": "hi"}},
            "additional_data": {"chat_properties": {}}
        })
    }

    #[test]
    fn a_v3_6_delivery_is_read_without_its_secret() {
        let d = parse(&body(delivery()), &Secret::new(SECRET)).unwrap();
        assert_eq!(d.action, "incoming_event");
        assert_eq!(d.payload["chat_id"], "PJ0MRSHTDG");
        assert!(d.additional_data.is_some());
        assert!(!format!("{d:?}").contains(SECRET));
    }

    #[test]
    fn a_v3_5_delivery_without_organization_or_additional_data_is_read() {
        let mut v = delivery();
        v.as_object_mut().unwrap().remove("organization_id");
        v.as_object_mut().unwrap().remove("additional_data");
        v["license_id"] = json!(104130623);
        let d = parse(&body(v), &Secret::new(SECRET)).unwrap();
        assert_eq!((d.organization_id, d.additional_data), (None, None));
    }

    #[test]
    fn the_secret_is_checked_before_the_shape() {
        let secret = Secret::new(SECRET);
        let mut wrong = delivery();
        wrong["secret_key"] = json!("s3cret-0123456789abcdef012345678X");
        assert_eq!(parse(&body(wrong), &secret), Err(Rejection::Unauthorized));
        let mut missing = json!({"payload": 1});
        assert_eq!(
            parse(&body(missing.take()), &secret),
            Err(Rejection::Unauthorized)
        );
        let mut numeric = delivery();
        numeric["secret_key"] = json!(12);
        assert_eq!(parse(&body(numeric), &secret), Err(Rejection::Unauthorized));
        assert_eq!(Rejection::Unauthorized.status(), 401);
        assert!(!Rejection::Unauthorized.text().contains(SECRET));
    }

    #[test]
    fn a_malformed_delivery_names_what_is_wrong() {
        let secret = Secret::new(SECRET);
        let cases: [(&str, Value, &str); 6] = [
            ("webhook_id", Value::Null, "`webhook_id` must be a string"),
            (
                "action",
                json!("Incoming Event"),
                "`action` must be a webhook action name",
            ),
            (
                "action",
                json!("x".repeat(65)),
                "`action` must be a string of 1 to 64",
            ),
            ("payload", json!([1]), "`payload` must be an object"),
            (
                "additional_data",
                json!("x"),
                "`additional_data` must be an object",
            ),
            (
                "organization_id",
                json!(5),
                "`organization_id` must be a string",
            ),
        ];
        for (key, value, expected) in cases {
            let mut v = delivery();
            v[key] = value;
            match parse(&body(v), &secret) {
                Err(Rejection::Malformed(why)) => {
                    assert!(why.starts_with(expected), "{key}: {why}")
                }
                other => panic!("{key}: {other:?}"),
            }
        }
        let mut v = delivery();
        v.as_object_mut().unwrap().remove("payload");
        assert_eq!(
            parse(&body(v), &secret),
            Err(Rejection::Malformed("`payload` is missing".to_string()))
        );
        for junk in [&b"not json"[..], b"[1,2]", b"", b"\xff\xfe"] {
            assert_eq!(parse(junk, &secret).unwrap_err().status(), 400);
        }
    }
}
