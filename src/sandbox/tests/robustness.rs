//! Nothing panics: every top-level field of every method, in both versions, set to values of
//! every JSON type, and forged page IDs, get a LiveChat error or a result, never `internal`.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use super::{call, sandbox};
use crate::{sandbox::methods::METHODS, version::ApiVersion};

fn odd_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(u64::MAX),
        json!(""),
        json!("PJ0MRSHTDG"),
        json!("ż☃\u{0}"),
        json!([]),
        json!([null, 1, "x", {}]),
        json!({}),
        json!({"a": {"b": [1, {"c": null}]}, "id": [], "type": 7}),
    ]
}

#[test]
fn odd_values_in_every_field_never_crash() {
    let mut st = sandbox();
    for version in ApiVersion::ALL {
        for m in METHODS {
            for body in [json!(null), json!([]), json!("x"), json!({})] {
                if let Err(e) = call(&mut st, version, m.name, body) {
                    assert_ne!(e.kind, "internal", "{}: {e}", m.name);
                }
            }
            for field in m.field_names(version) {
                for value in odd_values() {
                    let mut body = json!({});
                    body[field] = value.clone();
                    if let Err(e) = call(&mut st, version, m.name, body) {
                        assert_ne!(e.kind, "internal", "{} {field}={value}: {e}", m.name);
                    }
                    // and nested inside an otherwise plausible object
                    let mut nested = json!({"chat_id": "PJ0MRSHTDG", "id": "PJ0MRSHTDG", "chat": {"id": "PB4DF8GH2J"}});
                    nested[field] = json!({"id": value.clone(), "users": [value.clone()], "thread": {"events": [value.clone()]}, "type": value.clone(), "ids": value.clone()});
                    if let Err(e) = call(&mut st, version, m.name, nested) {
                        assert_ne!(e.kind, "internal", "{} nested {field}={value}: {e}", m.name);
                    }
                }
            }
        }
    }
}

#[test]
fn forged_page_ids_are_validation_errors() {
    let mut st = sandbox();
    for cursor in [
        json!({"method": "list_chats", "offset": usize::MAX, "limit": 100, "desc": true}),
        json!({"method": "list_chats", "offset": 0, "limit": usize::MAX, "desc": true}),
        json!({"method": "list_chats", "offset": 0, "limit": 0, "desc": true}),
        json!({"method": "list_threads", "chat": "PB4DF8GH2J", "offset": 0, "limit": 3, "desc": true, "min_events": 1000000}),
        json!({"method": "list_archives", "offset": 0, "limit": 3, "desc": true, "filters": {"query": 5}}),
    ] {
        let page_id = STANDARD.encode(cursor.to_string());
        for (method, extra) in [
            ("list_chats", json!({})),
            ("list_threads", json!({"chat_id": "PB4DF8GH2J"})),
            ("list_archives", json!({})),
        ] {
            let mut body = extra.clone();
            body["page_id"] = json!(page_id);
            match call(&mut st, ApiVersion::V3_6, method, body) {
                Ok(page) => assert!(page.is_object(), "{method}"),
                Err(e) => assert_eq!(e.kind, "validation", "{method} {cursor}: {e}"),
            }
        }
    }
    let huge_offset = STANDARD.encode(
        json!({"method": "list_chats", "offset": usize::MAX, "limit": 100, "desc": true})
            .to_string(),
    );
    let page = call(
        &mut st,
        ApiVersion::V3_6,
        "list_chats",
        json!({"page_id": huge_offset}),
    )
    .unwrap();
    assert_eq!(page["chats_summary"], json!([]));
}
