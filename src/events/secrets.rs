//! Secrets never reach the log: a webhook delivery carries the receiver's secret as
//! `secret_key` in its body, and the log drops every such field before storing anything.

use serde_json::Value;

/// The field LiveChat puts the webhook's secret in.
pub const SECRET_FIELD: &str = "secret_key";

/// What [`strip_secrets`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stripped {
    /// How many `secret_key` fields were removed.
    pub removed: usize,
    /// How deeply the value nests: the value is at level 0, its items at 1, and so on; this
    /// is the deepest level (`1` and `{}` are 0, `[1]` is 1).
    pub depth: usize,
}

/// Removes every `secret_key` field, at any depth, and measures how deeply the value nests.
/// Walks with a stack of its own, so no payload is too deep for it.
pub fn strip_secrets(value: &mut Value) -> Stripped {
    let mut found = Stripped {
        removed: 0,
        depth: 0,
    };
    let mut stack = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        found.depth = found.depth.max(depth);
        match value {
            Value::Object(fields) => {
                if fields.remove(SECRET_FIELD).is_some() {
                    found.removed += 1;
                }
                stack.extend(fields.values_mut().map(|v| (v, depth + 1)));
            }
            Value::Array(items) => stack.extend(items.iter_mut().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_secret_key_goes_and_the_rest_stays() {
        let mut delivery = json!({
            "webhook_id": "w1",
            "secret_key": "s3cr3t",
            "action": "incoming_event",
            "payload": {"chat_id": "C", "event": {"text": "secret_key is a word"},
                        "list": [{"secret_key": "again"}, 1]},
        });
        assert_eq!(strip_secrets(&mut delivery).removed, 2);
        assert_eq!(
            delivery,
            json!({
                "webhook_id": "w1",
                "action": "incoming_event",
                "payload": {"chat_id": "C", "event": {"text": "secret_key is a word"},
                            "list": [{}, 1]},
            })
        );
    }

    #[test]
    fn a_very_deep_payload_does_not_overflow_the_stack() {
        let mut deep = json!({"secret_key": "x"});
        for _ in 0..10_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(
            strip_secrets(&mut deep),
            Stripped {
                removed: 1,
                depth: 10_000
            }
        );
        // Dropping a value this deep recurses in serde_json itself: leak it instead.
        std::mem::forget(deep);
    }
}
