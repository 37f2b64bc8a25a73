//! When two deliveries are the same event: a webhook and LiveChat's retry of it, the same
//! event through two registrations, or an RTM push and the webhook of the same change.
//!
//! LiveChat's `webhook_id` names the registered webhook, not the delivery: every delivery of
//! one registration carries the same one (the v3.3 changelog renamed `register_webhook`'s
//! `webhook_id` answer to `id`; the sandbox does the same). It cannot tell a retry from the
//! next message. A retry re-sends the same body, so a delivery is keyed by what it says: the
//! SHA-256 of its action and payload, within a window of time. Two registrations delivering
//! one event (a second URL, another version's shape aside) are then stored once too.
//!
//! LiveChat retries "up to 3 times within about a minute" (its apps guide). A key holds the
//! window the delivery came in, and the append also looks for the previous window's key, so a
//! retry up to [`WINDOW`] after the first try is always recognised (up to twice that, by
//! where the windows fall). An event that really happens twice with the same payload
//! (`thread_tagged` with a tag removed and added again) is stored again once the windows
//! have moved on: from 2 × [`WINDOW`] apart at the latest. A retry later than that is stored
//! twice, which shows an agent the event again rather than losing one.

use std::time::Duration;

use serde::Serialize;

use crate::digest::sha256_hex;

/// How long a delivery's key stands for it.
pub const WINDOW: Duration = Duration::from_secs(120);

/// The key of a delivery of `action` with `payload` received at `now_ms` (Unix ms), and the
/// key the same delivery would have had in the previous window.
pub fn content_keys(action: &str, payload: &impl Serialize, now_ms: i64) -> (String, String) {
    // A payload that cannot be written out (never, for JSON read off the wire) keys as empty.
    let payload = serde_json::to_string(payload).unwrap_or_default();
    let content = sha256_hex(&format!("{action}\n{payload}"));
    let window = now_ms.div_euclid(WINDOW.as_millis() as i64);
    (
        format!("content:{content}:{window}"),
        format!("content:{content}:{}", window - 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const W: i64 = WINDOW.as_millis() as i64;

    /// Whether a delivery at `second` is taken as a retry of one at `first`.
    fn same(first: i64, second: i64, a: &Value, b: &Value) -> bool {
        let (stored, _) = content_keys("incoming_event", a, first);
        let (now, earlier) = content_keys("incoming_event", b, second);
        stored == now || stored == earlier
    }

    #[test]
    fn a_retry_within_the_window_is_the_same_delivery_wherever_the_windows_fall() {
        let body = json!({"chat_id": "C1", "event": {"id": "E1", "text": "hi"}});
        for start in [0, 1, W / 2, W - 1] {
            for gap in [0, 1, 1000, W / 2, W - 1, W] {
                let t = 7 * W + start;
                assert!(same(t, t + gap, &body, &body), "start {start}, gap {gap}");
            }
        }
    }

    #[test]
    fn the_next_message_of_the_same_webhook_is_not_a_retry() {
        let first = json!({"chat_id": "C1", "event": {"id": "E1", "text": "hi"}});
        let second = json!({"chat_id": "C1", "event": {"id": "E2", "text": "hi"}});
        assert!(!same(5 * W, 5 * W + 10, &first, &second));
        let (a, _) = content_keys("thread_tagged", &first, 0);
        let (b, _) = content_keys("thread_untagged", &first, 0);
        assert_ne!(a, b, "the action is part of the key");
    }

    #[test]
    fn the_same_payload_two_windows_later_is_a_new_event() {
        let body = json!({"chat_id": "C1", "thread_id": "T1", "tag": "vip"});
        for start in [0, W / 2, W - 1] {
            let t = 3 * W + start;
            assert!(!same(t, t + 2 * W, &body, &body), "start {start}");
        }
    }
}
