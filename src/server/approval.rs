//! The approval step of a call: between the argument check and the request, a call the
//! agent's policy holds (`approve`) goes out only once a person approved exactly it. The
//! person is the one at the client (elicitation: `elicitation/create` on protocols before
//! 2026-07-28, an `input_required` result from then on) or a supervisor (`livechat-mcp
//! approvals`, the console), as `approvers` allows. Nothing here lets an agent approve its
//! own call: no tool decides a request.

use std::time::Duration;

use rmcp::{
    Peer, RoleServer,
    model::{
        ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema,
        InputRequest, InputRequests, InputRequiredResult, InputResponses,
        PrimitiveSchemaDefinition, StringSchema,
    },
};
use serde_json::{Map, Value};

use super::{LiveChatServer, Refusal};
use crate::{
    approvals::{self, Approver, NewRequest, Request, State},
    audit::{NewEntry, Outcome},
    error::{FailureKind, ToolFailure},
    tools::ToolSpec,
};

/// The key of the one input a held call asks a 2026-07-28 client for.
const INPUT_KEY: &str = "approval";

/// How the person at the client can be asked, as the transport knows it.
#[derive(Clone, Default)]
pub enum ClientAsk {
    /// Not at all: the client declared no elicitation, or the caller is not an MCP client.
    #[default]
    Cannot,
    /// Now, with `elicitation/create` (protocols before 2026-07-28).
    Elicit(Peer<RoleServer>),
    /// With an `input_required` result (2026-07-28); a retry carries the answer and the
    /// request state given with the question.
    InputRequired {
        responses: Option<InputResponses>,
        state: Option<String>,
    },
}

/// How this request's client can be asked: by the protocol it speaks and whether it
/// declared form elicitation.
pub(super) fn client_ask(
    context: &rmcp::service::RequestContext<RoleServer>,
    request: &rmcp::model::CallToolRequestParams,
) -> ClientAsk {
    let forms = context
        .client_capabilities()
        .and_then(|c| c.elicitation)
        .is_some_and(|e| e.form.is_some() || e.url.is_none());
    if !forms {
        return ClientAsk::Cannot;
    }
    let stateless = context
        .protocol_version()
        .is_some_and(|v| v >= rmcp::model::ProtocolVersion::V_2026_07_28);
    if stateless {
        ClientAsk::InputRequired {
            responses: request.input_responses.clone(),
            state: request.request_state.clone(),
        }
    } else {
        ClientAsk::Elicit(context.peer.clone())
    }
}

/// What the approval step decided.
pub(super) enum Gate {
    /// Send it: not held, or approved (the request it goes out under).
    Go(Option<String>),
    /// Not sent.
    Stop(Refusal),
}

impl LiveChatServer {
    /// The approval step of a call of `spec` with `arguments` (as given, before the body was
    /// made); `entry` is the call's audit entry so far.
    pub(super) async fn approval_gate(
        &self,
        spec: &'static ToolSpec,
        arguments: &Map<String, Value>,
        entry: &NewEntry,
        ask: &ClientAsk,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Gate {
        let rule = &self.agent().approval;
        if !rule.applies(spec) {
            return Gate::Go(None);
        }
        let Some(store) = &self.approvals else {
            return Gate::Stop(unavailable(
                spec,
                "this server keeps no approval requests (its audit trail is off)",
            ));
        };
        match self.held(store, spec, arguments, entry, ask, cancel).await {
            Ok(gate) => gate,
            Err(e) => {
                tracing::error!("a held call to `{}` was refused: {e}", spec.name);
                Gate::Stop(unavailable(
                    spec,
                    "the approval requests could not be read or written",
                ))
            }
        }
    }

    async fn held(
        &self,
        store: &approvals::Approvals,
        spec: &'static ToolSpec,
        arguments: &Map<String, Value>,
        entry: &NewEntry,
        ask: &ClientAsk,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Gate, approvals::ApprovalError> {
        let current = self.agent();
        let rule = &current.approval;
        let agent = current.name.as_str();
        let hash = approvals::arguments_sha256(arguments);
        store.expire_recorded(self.audit.as_ref()).await?;
        let client = rule.allows(Approver::Client);
        // A 2026-07-28 client answering the question this call asked before.
        if client
            && let ClientAsk::InputRequired {
                responses: Some(responses),
                state: Some(state),
            } = ask
            && let Some(answer) = responses.get(INPUT_KEY)
            && approvals::is_id(state)
            && let Some(request) = store.get(state).await?
            && request.agent == agent
            && request.tool == spec.name
            && request.arguments_sha256 == hash
            && request.state == State::Pending
        {
            return self
                .answered(store, spec, &request, answer_of(answer), &hash)
                .await;
        }
        if let Some(approved) = store.claim(agent, spec.name, &hash).await? {
            return Ok(Gate::Go(Some(approved.id)));
        }
        if let Some(denied) = store.untold_denial(agent, spec.name, &hash).await? {
            let reason = format!(
                "request {} was denied by {}",
                denied.id,
                denied.decision_words()
            );
            return Ok(Gate::Stop(Refusal::Denied(
                ToolFailure {
                    kind: FailureKind::ApprovalDenied,
                    text: format!(
                        "approval_denied: `{}` was not called, nothing was sent to LiveChat: {reason}\nhint: do not retry it unchanged; a new identical call asks again",
                        spec.name
                    ),
                },
                reason,
            )));
        }
        let can_ask = client && !matches!(ask, ClientAsk::Cannot);
        if !can_ask && !rule.allows(Approver::Console) {
            return Ok(Gate::Stop(unavailable(
                spec,
                "only the person at the client may approve it, and this client cannot be asked (it declared no elicitation)",
            )));
        }
        let would = crate::audit::attempt(spec.name, &entry.targets);
        let made = store
            .request(NewRequest {
                agent: agent.to_string(),
                tool: spec.name.to_string(),
                arguments_sha256: hash.clone(),
                would,
                arguments: approvals::shown_arguments(arguments),
                approvers: rule.approvers.clone(),
            })
            .await;
        let request = match made {
            Ok((request, _)) => request,
            Err(full @ approvals::ApprovalError::TooManyWaiting { .. }) => {
                return Ok(Gate::Stop(unavailable(spec, &full.to_string())));
            }
            Err(e) => return Err(e),
        };
        if client {
            match ask {
                ClientAsk::Elicit(peer) => {
                    // The call goes on once answered, so the request gets its own row now.
                    self.record_row(entry.clone().held(&request.id), "an approval step")
                        .await;
                    let asked = peer.create_elicitation_with_timeout(
                        question(&request, store.ttl()),
                        Some(store.ttl()),
                    );
                    let answer = tokio::select! {
                        answer = asked => answer.ok(),
                        () = cancel.cancelled() => None,
                    };
                    if let Some(result) = answer {
                        return self
                            .answered(store, spec, &request, Some(answer_with_note(result)), &hash)
                            .await;
                    }
                }
                ClientAsk::InputRequired { .. } => {
                    let mut requests = InputRequests::new();
                    requests.insert(
                        INPUT_KEY.to_string(),
                        InputRequest::Elicitation(ElicitRequest::new(question(
                            &request,
                            store.ttl(),
                        ))),
                    );
                    let result = InputRequiredResult::new(Some(requests), Some(request.id.clone()));
                    return Ok(Gate::Stop(Refusal::Ask(Box::new(result), request.id)));
                }
                ClientAsk::Cannot => {}
            }
        }
        if rule.allows(Approver::Console) {
            let left = Duration::from_millis(
                u64::try_from(request.expires_ms - store.now_ms()).unwrap_or(0),
            );
            return Ok(Gate::Stop(Refusal::Held(
                ToolFailure {
                    kind: FailureKind::PendingApproval,
                    text: format!(
                        "pending_approval: request {} awaits a person; call again with the same arguments once it is approved (expires in {})\nhint: nothing was sent to LiveChat; tell the user it waits for approval",
                        request.id,
                        crate::approvals::time_left(left)
                    ),
                },
                request.id,
            )));
        }
        Ok(Gate::Stop(unavailable(
            spec,
            "only the person at the client may approve it, and the question to them failed or was cancelled",
        )))
    }

    /// The person at the client answered the question of `request`: accept lets the call
    /// through once; decline, cancel or no usable answer refuses it.
    async fn answered(
        &self,
        store: &approvals::Approvals,
        spec: &'static ToolSpec,
        request: &Request,
        answer: Option<(ElicitationAction, Option<String>)>,
        hash: &str,
    ) -> Result<Gate, approvals::ApprovalError> {
        let (accept, note) = match answer {
            Some((ElicitationAction::Accept, note)) => (true, note),
            Some((_, note)) => (false, note),
            None => (false, None),
        };
        let decided = match store
            .decide(
                &request.id,
                accept,
                Approver::Client.as_str(),
                note.as_deref(),
            )
            .await
        {
            Ok(decided) => decided,
            Err(approvals::ApprovalError::NotPending { id, state }) => {
                return Ok(Gate::Stop(Refusal::Denied(
                    ToolFailure {
                        kind: FailureKind::ApprovalDenied,
                        text: format!(
                            "approval_denied: `{}` was not called, nothing was sent to LiveChat: request {id} was {} before the answer came",
                            spec.name,
                            state.as_str()
                        ),
                    },
                    format!(
                        "request {id} was {} before the client answered",
                        state.as_str()
                    ),
                )));
            }
            Err(e) => return Err(e),
        };
        if !accept {
            // The call's own row, written as it ends, is the denial's.
            store.mark_recorded(&decided).await?;
            return Ok(Gate::Stop(Refusal::Declined(
                ToolFailure {
                    kind: FailureKind::ApprovalDenied,
                    text: format!(
                        "approval_denied: the person at the client declined `{}` (request {}); nothing was sent to LiveChat\nhint: do not retry it unchanged",
                        spec.name, decided.id
                    ),
                },
                Box::new(decided),
            )));
        }
        self.record_row(
            NewEntry::decision(&decided, Outcome::Approved),
            "an approval step",
        )
        .await;
        store.mark_recorded(&decided).await?;
        match store.claim(&request.agent, &request.tool, hash).await? {
            Some(claimed) => Ok(Gate::Go(Some(claimed.id))),
            // Another identical call took this approval first: this one waits again.
            None => Ok(Gate::Stop(Refusal::Held(
                ToolFailure {
                    kind: FailureKind::PendingApproval,
                    text: format!(
                        "pending_approval: the approval of request {} was used by an identical call first; call again to ask anew",
                        decided.id
                    ),
                },
                decided.id,
            ))),
        }
    }
}

/// The question a held call puts to the person at the client: what it would do, with which
/// arguments, and an optional note for the trail.
fn question(request: &Request, ttl: Duration) -> ElicitRequestParams {
    let arguments =
        serde_json::to_string_pretty(&request.arguments).unwrap_or_else(|_| "{}".to_string());
    let message = format!(
        "Agent {} would {} (`{}`).\n\nArguments:\n{arguments}\n\nAccept to send exactly this call to LiveChat once; decline to refuse it. Request {} expires in {}.",
        request.agent,
        request.would,
        request.tool,
        request.id,
        crate::approvals::time_left(ttl)
    );
    let mut properties = std::collections::BTreeMap::new();
    properties.insert(
        "note".to_string(),
        PrimitiveSchemaDefinition::String(
            StringSchema::new()
                .title("Note for the audit trail")
                .description("Optional: why you approve or decline")
                .max_length(200),
        ),
    );
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message,
        requested_schema: ElicitationSchema::new(properties).with_title("Approve this call?"),
    }
}

/// The action and note of an answer as a 2026-07-28 client sends it; `None` when it is not
/// an elicitation result.
fn answer_of(value: &Value) -> Option<(ElicitationAction, Option<String>)> {
    let result: ElicitResult = serde_json::from_value(value.clone()).ok()?;
    Some(answer_with_note(result))
}

/// The action of an elicitation answer and the person's note for the trail, whichever
/// protocol brought it.
fn answer_with_note(result: ElicitResult) -> (ElicitationAction, Option<String>) {
    let note = result
        .content
        .as_ref()
        .and_then(|c| c.get("note"))
        .and_then(Value::as_str)
        .map(str::to_string);
    (result.action, note)
}

fn unavailable(spec: &ToolSpec, why: &str) -> Refusal {
    Refusal::Denied(
        ToolFailure {
            kind: FailureKind::ApprovalDenied,
            text: format!(
                "approval_denied: `{}` needs a person's approval first and was not called, nothing was sent to LiveChat: {why}",
                spec.name
            ),
        },
        format!("needs approval, and {why}"),
    )
}
