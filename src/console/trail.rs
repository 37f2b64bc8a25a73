//! The trail page: the audit trail in plain English, newest first, filtered by a GET form (so
//! a filtered view is a link), paged back 50 rows at a time, kept live over server-sent
//! events, with one row's stored fields on a page of its own and a button that runs exactly
//! what `livechat-mcp audit verify` runs.

use std::{convert::Infallible, sync::Arc, time::Duration};

use askama::Template;
use axum::{
    Extension, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc};

use super::{Chrome, ConsoleState, auth::Session, error_page, render};
use crate::audit::{AuditStore, Decision, Entry, Outcome, QueryFilter, parse_since};

/// Rows per page.
pub const PAGE: usize = 50;
/// How often an open stream looks for new rows: the trail may be written by another process
/// (another server on the same file or database), so it is read, not subscribed to.
const POLL: Duration = Duration::from_secs(1);
/// The most streams open at once; past it a new one gets 503 and the page stays static.
pub const MAX_STREAMS: usize = 16;
/// The most rows one look sends; the next look sends the rest.
const STREAM_BATCH: usize = 100;

/// The open streams' slots, one set per console app.
#[derive(Clone)]
struct Streams(Arc<Semaphore>);

pub(super) fn routes() -> Router<Arc<ConsoleState>> {
    Router::new()
        .route("/console/trail", get(page))
        .route("/console/trail/stream", get(stream))
        .route("/console/trail/verify", post(verify))
        .route("/console/trail/{id}", get(detail))
        .layer(Extension(Streams(Arc::new(Semaphore::new(MAX_STREAMS)))))
}

/// The filter form's fields, as the query string carries them; empty means "any".
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct TrailQuery {
    #[serde(default)]
    agent: String,
    #[serde(default)]
    tool: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    before: String,
    /// For the stream: the last row the page has.
    #[serde(default)]
    after: String,
}

impl TrailQuery {
    /// The filter these fields ask for, or what is wrong with them, in words.
    fn filter(&self, now: DateTime<Utc>) -> Result<QueryFilter, String> {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let decision = match text(&self.decision) {
            None => None,
            Some(d) => Some(Decision::parse(&d).ok_or_else(|| {
                format!(
                    "the decision must be `allowed` or `denied`, not `{}`",
                    cut(&d)
                )
            })?),
        };
        let outcome = match text(&self.outcome) {
            None => None,
            Some(o) => Some(Outcome::parse(&o).ok_or_else(|| {
                format!(
                    "`{}` is not an outcome; the outcomes are {}",
                    cut(&o),
                    Outcome::ALL.map(Outcome::as_str).join(", ")
                )
            })?),
        };
        let time = |name: &str, value: &str| match text(value) {
            None => Ok(None),
            Some(v) => parse_time(&v, now)
                .map(Some)
                .map_err(|why| format!("{name}: {why}")),
        };
        let id = |name: &str, value: &str| match text(value) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{name} must be a row number, not `{}`", cut(&v))),
        };
        Ok(QueryFilter {
            agent: text(&self.agent),
            tool: text(&self.tool),
            decision,
            outcome,
            since: time("Since", &self.since)?,
            until: time("Until", &self.until)?,
            before: id("Before", &self.before)?,
            after: id("After", &self.after)?,
            limit: 0,
        })
    }

    /// The query string of these filters (not the paging), to build links with.
    fn filters_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("agent", &self.agent),
            ("tool", &self.tool),
            ("decision", &self.decision),
            ("outcome", &self.outcome),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !value.trim().is_empty() {
                out.append_pair(name, value.trim());
            }
        }
        out.finish()
    }
}

/// A time as the filter takes it: what `audit --since` takes (`45s`, `30m`, `1h`, `2d`, `1w`,
/// RFC 3339), or a browser's date-time field (`2026-01-05T10:00`, read as UTC).
pub(super) fn parse_time(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let value = value.trim();
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(naive.and_utc());
        }
    }
    parse_since(value, now)
        .map_err(|why| format!("{why}, or a date and time such as `2026-01-05T10:00` (UTC)"))
}

/// Someone's input, cut short for a message.
fn cut(text: &str) -> String {
    text.chars().take(40).collect()
}

/// One row as the table shows it.
pub(super) struct Row {
    id: u64,
    time: String,
    agent: String,
    tool: String,
    decision: &'static str,
    outcome: &'static str,
    sentence: String,
    completes: Option<u64>,
}

impl From<&Entry> for Row {
    fn from(entry: &Entry) -> Row {
        Row {
            id: entry.id,
            time: entry.time.clone(),
            agent: entry.agent.clone(),
            tool: entry.tool.clone(),
            decision: entry.decision.as_str(),
            outcome: entry.outcome.as_str(),
            sentence: entry.summary.clone(),
            completes: entry.completes,
        }
    }
}

/// One row alone: what the stream sends.
#[derive(Template)]
#[template(path = "trail_row.html", config = "src/console/askama.toml")]
struct RowFragment<'a> {
    row: &'a Row,
}

#[derive(Template)]
#[template(path = "trail.html", config = "src/console/askama.toml")]
struct TrailPage {
    chrome: Chrome,
    query: TrailQuery,
    problem: Option<String>,
    /// Where the trail is (`None`: the console has no trail).
    location: Option<String>,
    rows: Vec<Row>,
    agents: Vec<String>,
    /// Every outcome, and whether it is the one chosen.
    outcomes: Vec<(&'static str, bool)>,
    /// The link to the next, older page.
    older: Option<String>,
    /// The link back to the newest page, on an older one.
    newest: Option<String>,
    /// The stream's URL, on the newest page.
    stream: Option<String>,
}

/// `GET /console/trail`.
async fn page(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    Query(query): Query<TrailQuery>,
) -> Response {
    let mut page = TrailPage {
        chrome: Chrome::new("trail", &session),
        problem: None,
        location: state.audit.as_ref().map(AuditStore::location),
        rows: Vec::new(),
        agents: state
            .policy
            .current()
            .agents()
            .map(|a| a.name.clone())
            .collect(),
        outcomes: Outcome::ALL
            .map(|o| (o.as_str(), query.outcome.trim() == o.as_str()))
            .to_vec(),
        older: None,
        newest: None,
        stream: None,
        query: query.clone(),
    };
    let Some(store) = &state.audit else {
        return render(&page);
    };
    let filter = match query.filter(Utc::now()) {
        Ok(filter) => filter,
        Err(why) => {
            page.problem = Some(why);
            let mut response = render(&page);
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return response;
        }
    };
    let listed = store
        .query(&QueryFilter {
            after: None,
            limit: PAGE + 1,
            ..filter.clone()
        })
        .await;
    let mut entries = match listed {
        Ok(entries) => entries,
        Err(why) => {
            tracing::error!("console: the trail could not be read: {why}");
            page.problem = Some(format!("The trail could not be read: {why}"));
            let mut response = render(&page);
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return response;
        }
    };
    let filters = query.filters_query();
    let link = |extra: String| {
        let joined = [filters.as_str(), extra.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("&");
        if joined.is_empty() {
            "/console/trail".to_string()
        } else {
            format!("/console/trail?{joined}")
        }
    };
    if entries.len() > PAGE {
        entries.truncate(PAGE);
        page.older = entries.last().map(|e| link(format!("before={}", e.id)));
    }
    if filter.before.is_some() {
        page.newest = Some(link(String::new()));
    } else {
        // Live rows belong on top of the newest page only; they start after the newest row
        // of the whole trail, whether or not it matches.
        let last = match store.anchor().await {
            Ok(anchor) => anchor.map_or(0, |a| a.rows),
            Err(_) => entries.first().map_or(0, |e| e.id),
        };
        let mut stream = form_urlencoded::Serializer::new(String::new());
        stream.append_pair("after", &last.to_string());
        page.stream = Some(format!(
            "/console/trail/stream?{}",
            [filters.as_str(), stream.finish().as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("&")
        ));
    }
    page.rows = entries.iter().map(Row::from).collect();
    render(&page)
}

#[derive(Template)]
#[template(path = "trail_entry.html", config = "src/console/askama.toml")]
struct EntryPage {
    chrome: Chrome,
    id: u64,
    fields: Vec<(&'static str, String)>,
    targets: String,
    sentence: String,
}

/// `GET /console/trail/{id}`: one row's stored fields. The trail keeps no message text, only
/// lengths and hashes, so none can show here.
async fn detail(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    let not_found = |message: &str| {
        error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such row",
            message,
        )
    };
    let Some(store) = &state.audit else {
        return not_found("This console has no audit trail.");
    };
    let Ok(id) = id.parse::<u64>() else {
        return not_found("A row is named by its number, as in /console/trail/12.");
    };
    let found = store
        .query(&QueryFilter {
            after: id.checked_sub(1),
            before: id.checked_add(1),
            limit: 1,
            ..QueryFilter::default()
        })
        .await;
    let entry = match found {
        Ok(mut rows) => match rows.pop() {
            Some(entry) if entry.id == id => entry,
            _ => {
                return not_found(&format!(
                    "The trail has no row {id} to show (a call's pending row is shown by the row that records its outcome)."
                ));
            }
        },
        Err(why) => {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&session),
                "The trail could not be read",
                &why,
            );
        }
    };
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "—".to_string());
    let fields = vec![
        ("Row", entry.id.to_string()),
        ("Time (UTC)", entry.time.clone()),
        ("Agent", entry.agent.clone()),
        ("Tool", entry.tool.clone()),
        ("Area", or_none(entry.area.clone())),
        ("Access", or_none(entry.access.clone())),
        ("Decision", entry.decision.as_str().to_string()),
        ("Reason", or_none(entry.reason.clone())),
        ("Outcome", entry.outcome.as_str().to_string()),
        ("Error type", or_none(entry.error_type.clone())),
        ("Duration", format!("{} ms", entry.duration_ms)),
        ("Attempts", or_none(entry.attempts.map(|a| a.to_string()))),
        (
            "Waited",
            or_none(entry.waited_ms.map(|w| format!("{w} ms"))),
        ),
        ("Identity", or_none(entry.identity.clone())),
        ("Instance", entry.instance.clone()),
        (
            "Completes row",
            or_none(entry.completes.map(|c| c.to_string())),
        ),
        ("MAC", entry.mac.clone()),
    ];
    let targets = serde_json::to_string_pretty(&entry.targets).unwrap_or_default();
    render(&EntryPage {
        chrome: Chrome::new("trail", &session),
        id,
        fields,
        targets,
        sentence: entry.summary,
    })
}

/// `GET /console/trail/stream`: server-sent events, one `row` event per new row matching the
/// page's filters (its `<tr>`, rendered here, as JSON `{id, completes, html}`), oldest first.
/// The event id is the row's, so a reconnecting browser goes on after the last one it got.
async fn stream(
    State(state): State<Arc<ConsoleState>>,
    Extension(streams): Extension<Streams>,
    Query(query): Query<TrailQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(store) = state.audit.clone() else {
        return (StatusCode::NOT_FOUND, "this console has no audit trail").into_response();
    };
    let filter = match query.filter(Utc::now()) {
        Ok(filter) => filter,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let start = match resume.or(filter.after) {
        Some(after) => after,
        None => match store.anchor().await {
            Ok(anchor) => anchor.map_or(0, |a| a.rows),
            Err(why) => return (StatusCode::INTERNAL_SERVER_ERROR, why).into_response(),
        },
    };
    let Ok(permit) = streams.0.clone().try_acquire_owned() else {
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many live trail views are open; the page still works, reload it for new rows",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        return response;
    };
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(STREAM_BATCH);
    tokio::spawn(async move {
        let _permit = permit;
        let mut last = start;
        loop {
            let rows = store
                .query(&QueryFilter {
                    after: Some(last),
                    before: None,
                    limit: STREAM_BATCH,
                    ..filter.clone()
                })
                .await;
            match rows {
                Ok(rows) => {
                    // Newest first from the store; sent oldest first.
                    for entry in rows.iter().rev() {
                        let row = Row::from(entry);
                        let html = match (RowFragment { row: &row }).render() {
                            Ok(html) => html,
                            Err(e) => {
                                tracing::error!("console: a trail row failed to render: {e}");
                                continue;
                            }
                        };
                        let data = serde_json::json!({
                            "id": entry.id,
                            "completes": entry.completes,
                            "html": html,
                        });
                        let event = Event::default()
                            .event("row")
                            .id(entry.id.to_string())
                            .data(data.to_string());
                        if tx.send(Ok(event)).await.is_err() {
                            return;
                        }
                        last = last.max(entry.id);
                    }
                }
                Err(why) => tracing::warn!("console: the live trail could not read: {why}"),
            }
            tokio::select! {
                () = tx.closed() => return,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[derive(Template)]
#[template(path = "trail_verify.html", config = "src/console/askama.toml")]
struct VerifyPage {
    chrome: Chrome,
    location: String,
    /// `Ok(lines)`: it verified; `Err(why)`: what is wrong.
    result: Result<String, String>,
    anchor: Option<String>,
}

/// `POST /console/trail/verify`: what `livechat-mcp audit verify` runs, `AuditStore::verify`
/// against the anchor file, with its words; and the anchor `audit anchor` prints.
async fn verify(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
) -> Response {
    let Some(store) = &state.audit else {
        return error_page(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No audit trail",
            "This console has no audit trail to verify.",
        );
    };
    let result = match store.verify(None).await {
        Ok(0) => Ok(format!(
            "audit trail empty: nothing recorded yet ({})",
            store.location()
        )),
        Ok(rows) => Ok(format!(
            "audit trail intact: {rows} rows; every MAC checks under the key {}; the anchor {} matches ({})",
            store.key_path().display(),
            store.anchor_path().display(),
            store.location()
        )),
        Err(why) => Err(why),
    };
    let anchor = match store.anchor().await {
        Ok(anchor) => anchor.map(|a| a.to_string()),
        Err(why) => Some(format!("(could not be read: {why})")),
    };
    render(&VerifyPage {
        chrome: Chrome::new("trail", &session),
        location: store.location(),
        result,
        anchor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn times_are_durations_rfc3339_or_a_browsers_date_time_in_utc() {
        let at = |s: &str| parse_time(s, now()).map(|t| t.to_rfc3339());
        assert_eq!(at("1h"), Ok("2026-01-05T11:00:00+00:00".into()));
        assert_eq!(
            at("2026-01-05T10:00:00+02:00"),
            Ok("2026-01-05T08:00:00+00:00".into())
        );
        assert_eq!(
            at("2026-01-05T10:00"),
            Ok("2026-01-05T10:00:00+00:00".into())
        );
        assert_eq!(
            at("2026-01-05T10:00:30"),
            Ok("2026-01-05T10:00:30+00:00".into())
        );
        let err = at("yesterday").expect_err("nonsense");
        assert!(
            err.contains("2026-01-05T10:00") && err.contains("UTC"),
            "{err}"
        );
    }

    #[test]
    fn bad_filters_are_named() {
        let query = |f: fn(&mut TrailQuery)| {
            let mut q = TrailQuery::default();
            f(&mut q);
            q.filter(now())
        };
        assert!(
            query(|q| q.decision = "maybe".into())
                .expect_err("bad decision")
                .contains("allowed")
        );
        assert!(
            query(|q| q.outcome = "fine".into())
                .expect_err("bad outcome")
                .contains("expired")
        );
        assert!(
            query(|q| q.before = "x".into())
                .expect_err("bad id")
                .contains("row number")
        );
        let ok = query(|q| {
            q.agent = " ops ".into();
            q.decision = "denied".into();
            q.since = "2h".into();
        })
        .expect("good filters");
        assert_eq!(ok.agent.as_deref(), Some("ops"));
        assert_eq!(ok.decision, Some(Decision::Denied));
        assert!(ok.since.is_some() && ok.until.is_none());
    }
}
