//! The requests of one MCP session that await their answers, by JSON-RPC id. rmcp keys a
//! session's pending work on the id alone, so a second request with an id still in flight
//! crosses with the first (one caller gets the other's answer, the rest get none). Every
//! transport refuses such a request here instead, with an error of its own, and the first
//! request runs on undisturbed.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ErrorData, JsonRpcMessage, RequestId,
    ServerJsonRpcMessage,
};

/// The ids in flight in one session, each with what it holds until it is answered (over SSE,
/// the agent's in-flight permit; elsewhere nothing).
#[derive(Debug)]
pub struct InFlight<H = ()> {
    ids: Mutex<HashMap<RequestId, H>>,
}

impl<H> Default for InFlight<H> {
    fn default() -> Self {
        InFlight {
            ids: Mutex::new(HashMap::new()),
        }
    }
}

impl<H> InFlight<H> {
    fn ids(&self) -> MutexGuard<'_, HashMap<RequestId, H>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `id` as in flight, holding `held` until it is answered. When the id already is
    /// in flight, nothing changes and the caller gets `held` back with the answer to send.
    pub fn claim(&self, id: &RequestId, held: H) -> Result<(), Box<(H, ServerJsonRpcMessage)>> {
        let mut ids = self.ids();
        if ids.contains_key(id) {
            return Err(Box::new((held, already_in_flight(id))));
        }
        ids.insert(id.clone(), held);
        Ok(())
    }

    /// Releases the request that `message` answers, if it answers one, and returns what it
    /// held. Called once the answer has been handed to the transport.
    pub fn answered(&self, message: &ServerJsonRpcMessage) -> Option<H> {
        let id = match message {
            JsonRpcMessage::Response(response) => Some(&response.id),
            JsonRpcMessage::Error(error) => error.id.as_ref(),
            _ => None,
        }?;
        self.release(id)
    }

    /// Releases the request a client's `notifications/cancelled` names: rmcp sends no answer
    /// to a cancelled request, so it would otherwise stay in flight for the session's life.
    pub fn cancelled(&self, message: &ClientJsonRpcMessage) -> Option<H> {
        let JsonRpcMessage::Notification(notification) = message else {
            return None;
        };
        let ClientNotification::CancelledNotification(cancelled) = &notification.notification
        else {
            return None;
        };
        self.release(cancelled.params.request_id.as_ref()?)
    }

    /// Releases `id`, returning what it held.
    pub fn release(&self, id: &RequestId) -> Option<H> {
        self.ids().remove(id)
    }

    /// Whether no request of the session awaits its answer.
    pub fn is_empty(&self) -> bool {
        self.ids().is_empty()
    }
}

/// The answer to a request whose id is already in flight: JSON-RPC's Invalid Request, with the
/// id, so the client can tell which of its requests was refused.
pub fn already_in_flight(id: &RequestId) -> ServerJsonRpcMessage {
    let shown = match id {
        RequestId::Number(n) => n.to_string(),
        RequestId::String(s) => {
            let cut: String = s.chars().take(64).flat_map(char::escape_debug).collect();
            format!("\"{cut}\"")
        }
    };
    ServerJsonRpcMessage::error(
        ErrorData::invalid_request(
            format!(
                "invalid request: id `{shown}` is already in flight in this session; wait for its answer, or give each request its own id"
            ),
            None,
        ),
        Some(id.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn server(value: serde_json::Value) -> ServerJsonRpcMessage {
        serde_json::from_value(value).expect("server message")
    }

    fn client(value: serde_json::Value) -> ClientJsonRpcMessage {
        serde_json::from_value(value).expect("client message")
    }

    #[test]
    fn a_second_claim_of_an_id_in_flight_is_refused_until_it_is_answered() {
        let in_flight = InFlight::<&str>::default();
        let seven = RequestId::Number(7);
        assert!(in_flight.claim(&seven, "first").is_ok());
        let refused = in_flight.claim(&seven, "second").expect_err("duplicate");
        let (held, answer) = *refused;
        assert_eq!(held, "second");
        let answer = serde_json::to_value(&answer).expect("json");
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["error"]["code"], -32600);
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains("id `7` is already in flight"), "{message}");
        // The string id `"7"` is another id.
        assert!(
            in_flight
                .claim(&RequestId::String("7".into()), "text")
                .is_ok()
        );

        let other = server(json!({"jsonrpc": "2.0", "id": 8, "result": {}}));
        assert_eq!(in_flight.answered(&other), None);
        let answer = server(json!({"jsonrpc": "2.0", "id": 7, "result": {}}));
        assert_eq!(in_flight.answered(&answer), Some("first"));
        assert!(in_flight.claim(&seven, "again").is_ok());
        let error =
            server(json!({"jsonrpc": "2.0", "id": 7, "error": {"code": 1, "message": "x"}}));
        assert_eq!(in_flight.answered(&error), Some("again"));
    }

    #[test]
    fn a_cancelled_request_is_released() {
        let in_flight = InFlight::<()>::default();
        let id = RequestId::String("a".into());
        in_flight.claim(&id, ()).expect("claim");
        assert!(!in_flight.is_empty());
        let cancel = client(
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": "a", "reason": "user"}}),
        );
        assert_eq!(in_flight.cancelled(&cancel), Some(()));
        assert!(in_flight.is_empty());
    }

    #[test]
    fn a_long_string_id_is_cut_in_the_message() {
        let id = RequestId::String("x\n".repeat(100).into());
        let answer = serde_json::to_value(already_in_flight(&id)).expect("json");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains("\\n"), "{message}");
        assert!(message.len() < 300, "{message}");
        assert_eq!(answer["id"], json!("x\n".repeat(100)));
    }
}
