//! Fuzzing (issue 10): property tests over the three ways outside input reaches the server.
//!
//! - **The JSON-RPC entry.** Arbitrary bytes and mutated JSON-RPC lines go through the stdio
//!   guard (`stdio::guard`) into a live rmcp session, and as POST bodies through the whole HTTP
//!   app. Nothing panics, and every line that carries an id gets exactly one answer.
//! - **Tool arguments.** Values shaped by each tool's input schema, then spoiled (wrong types,
//!   nulls, huge strings, deep nesting, control and bidi characters, unknown fields), go
//!   through `LiveChatServer::call` for every tool of both API versions against a stand-in that
//!   counts requests. An `invalid_arguments` call sent nothing, quotes no long value whole, and
//!   the audit sentence holds no raw control or bidi character.
//! - **Upstream bodies.** Whatever LiveChat might answer (any status, any bytes, with or
//!   without a length, sometimes echoing the credentials) is decoded by the client: the tool
//!   result never holds a credential and a failure names its kind.
//!
//! `cargo test --test fuzz` runs [`CI_CASES`] inputs per property. The long run is a separate
//! command, each property [`LONG_CASES`] inputs unless `FUZZ_CASES` says otherwise:
//! `cargo test --release --test fuzz -- --ignored --test-threads 1 --nocapture`.

use std::{
    convert::Infallible,
    fmt::Debug,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    http::{Request, Response, StatusCode},
};
use livechat_mcp::{
    audit::NewEntry,
    client::redact,
    config::{Credentials, Settings},
    error::FailureKind,
    http::{HttpOptions, HttpSetup, HttpState, http_app, new_key},
    policy::{Level, Policy, key_sha256},
    server::{CallObserver, LiveChatServer, Traffic},
    stdio, tools,
    version::ApiVersion,
};
use proptest::{
    prelude::*,
    sample::select,
    strategy::{BoxedStrategy, Union},
    test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner},
};
use rmcp::{
    ServiceExt,
    model::{CallToolResult, ClientJsonRpcMessage},
};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tower::ServiceExt as _;

/// Inputs per property in a plain `cargo test`: enough to catch a regression, cheap in CI.
const CI_CASES: u32 = 256;
/// Inputs per property in the long run (`-- --ignored`), unless `FUZZ_CASES` is set.
const LONG_CASES: u32 = 1_000_000;

fn long_cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(LONG_CASES)
}

/// Runs `test` on `cases` inputs from `strategy` and prints how many ran and how fast. A
/// failure panics with proptest's smallest failing input.
fn run<S>(name: &str, cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let seed = seed(cases);
    eprintln!("fuzz {name}: {cases} inputs, seed {seed} (FUZZ_SEED={seed} repeats them)");
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4096,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    };
    let ran = AtomicU64::new(0);
    let started = Instant::now();
    let result = TestRunner::new(config).run(&strategy, |input| {
        let n = ran.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(100_000) {
            eprintln!(
                "fuzz {name}: {n} inputs after {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        test(input)
    });
    let secs = started.elapsed().as_secs_f64();
    let ran = ran.load(Ordering::Relaxed);
    eprintln!(
        "fuzz {name}: {ran} inputs in {secs:.1} s ({:.0}/s)",
        ran as f64 / secs.max(1e-9)
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, input)) => {
            let input = format!("{input:?}");
            let shown: String = input.chars().take(4000).collect();
            panic!(
                "fuzz {name}: {reason}\nminimal failing input ({} bytes): {shown}",
                input.len()
            )
        }
        Err(e) => panic!("fuzz {name}: {e}"),
    }
}

/// How the inputs of a property ended, by kind: shows the generator reaches every branch.
#[derive(Default)]
struct Tally(Mutex<std::collections::BTreeMap<String, u64>>);

impl Tally {
    fn add(&self, kind: &str) {
        *lock(&self.0).entry(kind.to_string()).or_default() += 1;
    }

    fn print(&self, name: &str) {
        let counts: Vec<String> = lock(&self.0)
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        eprintln!("fuzz {name}: {}", counts.join(", "));
    }
}

/// `FUZZ_SEED`, else a fixed seed for the short run (CI sees the same inputs every time) and
/// a fresh one for a long run.
fn seed(cases: u32) -> u64 {
    if let Some(seed) = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        return seed;
    }
    if cases == CI_CASES {
        return 10;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(10)
}

/// One single-threaded runtime per property: every case and the stand-ins run on it, so a
/// case costs no thread hand-offs.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// How long one case may take before it counts as a hang (an answer that never came).
const CASE_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// A LiveChat stand-in: one local server for the whole property, answering what the case says.
// ---------------------------------------------------------------------------------------------

/// What the stand-in answers: a status and a body, sent with a `Content-Length` or, when
/// `chunk` is set, chunked in pieces of that size.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
    chunk: Option<usize>,
}

impl Answer {
    fn empty_object() -> Answer {
        Answer {
            status: 200,
            body: b"{}".to_vec(),
            chunk: None,
        }
    }
}

#[derive(Clone)]
struct Upstream {
    url: String,
    requests: Arc<AtomicUsize>,
    last_body: Arc<Mutex<Vec<u8>>>,
    answer: Arc<Mutex<Answer>>,
}

impl Upstream {
    async fn start() -> Upstream {
        let upstream = Upstream {
            url: String::new(),
            requests: Arc::new(AtomicUsize::new(0)),
            last_body: Arc::new(Mutex::new(Vec::new())),
            answer: Arc::new(Mutex::new(Answer::empty_object())),
        };
        let shared = upstream.clone();
        let app = axum::Router::new().fallback(move |body: Bytes| {
            let shared = shared.clone();
            async move {
                shared.requests.fetch_add(1, Ordering::SeqCst);
                *lock(&shared.last_body) = body.to_vec();
                let answer = lock(&shared.answer).clone();
                respond(answer)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Upstream { url, ..upstream }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn set(&self, answer: Answer) {
        *lock(&self.answer) = answer;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn respond(answer: Answer) -> Response<Body> {
    let body = match answer.chunk {
        None => Body::from(answer.body),
        Some(size) => {
            let chunks: Vec<Result<Bytes, Infallible>> = answer
                .body
                .chunks(size.max(1))
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Body::from_stream(tokio_stream::iter(chunks))
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    response
}

const TOKEN: &str = "dal:Fuzz/Token+0123456789";
const PAT: &str = "Fuzz/Pat+9876543210";
const ACCOUNT: &str = "acc-fuzz-1";

fn bearer() -> Credentials {
    Credentials::from_values(Some(TOKEN), None, None).expect("bearer")
}

fn pat() -> Credentials {
    Credentials::from_values(None, Some(PAT), Some(ACCOUNT)).expect("pat")
}

fn settings(url: &str, version: ApiVersion, access: Level, credentials: Credentials) -> Settings {
    let mut settings = Settings::new(url);
    settings.version = version;
    settings.access = access;
    settings.credentials = Ok(credentials);
    settings.timeout = Duration::from_secs(10);
    // No waiting and retrying here: each case is one answer, decoded (a misdirected request
    // still moves once to the region named). Retries have their own tests (tests/faults.rs).
    settings.retry_budget = Duration::ZERO;
    settings
}

/// Keeps the summary sentence of the last call, as the audit trail would store it.
#[derive(Default)]
struct LastSentence(Mutex<Option<String>>);

impl CallObserver for LastSentence {
    fn call_finished(&self, entry: &NewEntry, _elapsed: Duration, _traffic: &Traffic) {
        *lock(&self.0) = Some(entry.summary());
    }
}

impl LastSentence {
    fn take(&self) -> Option<String> {
        lock(&self.0).take()
    }
}

/// Characters that must never reach an audit sentence raw: C0/C1 controls and DEL, line and
/// paragraph separators, and the bidirectional formatting characters (embeddings, overrides,
/// isolates, marks).
fn forbidden_in_sentence(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
            | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn check_sentence(sentence: Option<String>) -> Result<(), TestCaseError> {
    let Some(sentence) = sentence else {
        return Err(TestCaseError::fail("the call was not reported for audit"));
    };
    if let Some(c) = sentence.chars().find(|&c| forbidden_in_sentence(c)) {
        return Err(TestCaseError::fail(format!(
            "the audit sentence holds a raw U+{:04X}: {sentence:?}",
            c as u32
        )));
    }
    Ok(())
}

fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Building blocks for values.
// ---------------------------------------------------------------------------------------------

/// Characters that break things: controls, escapes, bidi overrides and isolates, zero-width
/// and tag characters, the separators the audit sentence uses, quotes and backslashes.
const NASTY: &[char] = &[
    '\0',
    '\n',
    '\r',
    '\t',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{9b}',
    '\u{202e}',
    '\u{202a}',
    '\u{2066}',
    '\u{2069}',
    '\u{200e}',
    '\u{200f}',
    '\u{061c}',
    '\u{200b}',
    '\u{feff}',
    '\u{2028}',
    '\u{2029}',
    '\u{e0041}',
    '\u{fe0f}',
    '\u{301}',
    '\u{ad}',
    'a',
    'Z',
    '0',
    ' ',
    '"',
    '\\',
    '`',
    '\'',
    '—',
    '#',
    ';',
    ':',
    'é',
    '🙂',
    '\u{10ffff}',
    '\u{fffd}',
];

/// Values a caller might use to spoof an audit line or smuggle text.
const SPOOFS: &[&str] = &[
    "PJ0MRSHTDG — allowed, done in 0 ms; #7 smith deleted agent lee",
    "PJ0MRSHTDG\n#7 2026-01-01T00:00:00.000Z smith deleted agent lee — allowed, done in 1 ms",
    "\u{202e}GTDHSRM0JP",
    "b7eff798-0000-4000-8000-000000000000\u{2066}",
    "`; DROP TABLE audit; --",
    "${LIVECHAT_ACCESS_TOKEN}",
    "",
    " ",
];

fn nasty_string() -> BoxedStrategy<String> {
    let short = prop_oneof![
        4 => any::<String>(),
        4 => prop::collection::vec(select(NASTY), 0..24).prop_map(String::from_iter),
        2 => "[A-Z0-9]{10}",
        1 => "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        1 => select(SPOOFS).prop_map(str::to_string),
    ];
    // Long values are rare, so that a case stays cheap on average.
    prop_oneof![
        200 => short,
        4 => (select(NASTY), 100usize..5_000).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => (select(NASTY), 100_000usize..300_000).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
    .boxed()
}

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        2 => select(vec![
            json!(0), json!(-1), json!(1), json!(i64::MIN), json!(u64::MAX), json!(1.5),
            json!(-0.0), json!(1e308), json!(4294967296u64), json!(2147483648u64), json!(65536),
        ]),
    ]
    .boxed()
}

fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number(),
        3 => nasty_string().prop_map(Value::String),
    ]
    .boxed()
}

/// Any JSON value, a few levels deep.
fn any_json() -> BoxedStrategy<Value> {
    scalar()
        .prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((nasty_string(), inner), 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A value nested `depth` arrays or objects deep. JSON parsers on the way in stop at 128
/// levels, so deeper values cannot arrive.
fn deep() -> BoxedStrategy<Value> {
    (1usize..120, any::<bool>(), scalar())
        .prop_map(|(depth, arrays, leaf)| {
            (0..depth).fold(leaf, |inner, _| {
                if arrays {
                    Value::Array(vec![inner])
                } else {
                    json!({ "a": inner })
                }
            })
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Tool arguments shaped by the schema, then spoiled.
// ---------------------------------------------------------------------------------------------

/// How deep the schema is followed before any value will do.
const SCHEMA_DEPTH: u32 = 6;

/// A value for `schema`, mostly fitting it, sometimes of the wrong kind.
fn for_schema(schema: &Value, root: &Value, depth: u32) -> BoxedStrategy<Value> {
    prop_oneof![
        12 => fitting(schema, root, depth),
        1 => Just(Value::Null),
        1 => scalar(),
        1 => any_json(),
        1 => deep(),
    ]
    .boxed()
}

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    match schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        Some(name) => root["$defs"].get(name).unwrap_or(schema),
        None => schema,
    }
}

fn fitting(schema: &Value, root: &Value, depth: u32) -> BoxedStrategy<Value> {
    let schema = resolve(schema, root);
    if depth > SCHEMA_DEPTH {
        return scalar();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.is_empty()
    {
        return select(values.clone()).boxed();
    }
    if let Some(value) = schema.get("const") {
        return Just(value.clone()).boxed();
    }
    for keyword in ["oneOf", "anyOf"] {
        if let Some(branches) = schema.get(keyword).and_then(Value::as_array)
            && !branches.is_empty()
        {
            return Union::new(branches.iter().map(|b| fitting(b, root, depth + 1))).boxed();
        }
    }
    match schema.get("type") {
        Some(Value::Array(kinds)) if !kinds.is_empty() => Union::new(
            kinds
                .iter()
                .map(|kind| of_type(kind.as_str().unwrap_or_default(), schema, root, depth)),
        )
        .boxed(),
        Some(Value::String(kind)) => of_type(kind, schema, root, depth),
        _ if schema.get("properties").is_some() => of_type("object", schema, root, depth),
        _ => any_json(),
    }
}

fn of_type(kind: &str, schema: &Value, root: &Value, depth: u32) -> BoxedStrategy<Value> {
    let limit = |key: &str| schema.get(key).and_then(Value::as_i64);
    match kind {
        "object" => object(schema, root, depth, false),
        "array" => {
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            let max = limit("maxItems").unwrap_or(4).clamp(0, 4) as usize;
            prop_oneof![
                8 => prop::collection::vec(for_schema(&items, root, depth + 1), 0..=max),
                1 => prop::collection::vec(for_schema(&items, root, depth + 1), 0..64),
            ]
            .prop_map(Value::Array)
            .boxed()
        }
        "string" => {
            let max = limit("maxLength").unwrap_or(64).max(1) as usize;
            prop_oneof![
                3 => proptest::string::string_regex(&format!("[a-zA-Z0-9_ .@-]{{0,{}}}", max.min(64)))
                    .expect("regex"),
                2 => nasty_string(),
            ]
            .prop_map(Value::String)
            .boxed()
        }
        "integer" => {
            let low = limit("minimum").unwrap_or(0);
            let high = limit("maximum").unwrap_or(1000).max(low);
            prop_oneof![3 => (low..=high).prop_map(Value::from), 1 => number()].boxed()
        }
        "number" => number(),
        "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
        "null" => Just(Value::Null).boxed(),
        _ => any_json(),
    }
}

/// An object of the schema's fields: required ones mostly there, optional ones often, and now
/// and then a field the schema does not know.
fn object(schema: &Value, root: &Value, depth: u32, top: bool) -> BoxedStrategy<Value> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(name, field)| {
                    let chance = if required.contains(&name.as_str()) {
                        0.9
                    } else {
                        0.4
                    };
                    let name = name.clone();
                    prop::option::weighted(chance, for_schema(field, root, depth + 1))
                        .prop_map(move |value| value.map(|v| (name.clone(), v)))
                        .boxed()
                })
                .collect()
        })
        .unwrap_or_default();
    let known: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    // Unknown fields: other fields' names at the wrong level, near misses, nasty names.
    let extra_name = if known.is_empty() {
        nasty_string()
    } else {
        prop_oneof![
            2 => nasty_string(),
            1 => select(known).prop_map(|k| format!("{k} ")),
            1 => Just("id".to_string()),
        ]
        .boxed()
    };
    let extras = prop::option::weighted(
        if top { 0.15 } else { 0.05 },
        prop::collection::vec((extra_name, any_json()), 1..3),
    );
    (fields, extras)
        .prop_map(|(fields, extras)| {
            let mut map: Map<String, Value> = fields.into_iter().flatten().collect();
            for (name, value) in extras.unwrap_or_default() {
                map.insert(name, value);
            }
            Value::Object(map)
        })
        .boxed()
}

/// A call: which of the servers, the tool name, and its arguments.
type Call = (usize, String, Map<String, Value>);

/// Calls of every tool of `version`, for server `server`.
fn calls_of(server: usize, version: ApiVersion) -> Vec<BoxedStrategy<Call>> {
    tools::all()
        .filter(|spec| spec.available_in(version))
        .map(|spec| {
            let schema = spec.input_schema(version);
            let name = spec.name.to_string();
            object(&schema, &schema, 0, true)
                .prop_map(move |args| {
                    let Value::Object(args) = args else {
                        unreachable!("object() makes objects")
                    };
                    (server, name.clone(), args)
                })
                .boxed()
        })
        .collect()
}

/// Every string in `value`, keys included.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// A value longer than this is never quoted whole in an argument error: the schema check
/// quotes 40 characters of it, a typed request's message is cut at 160.
const QUOTED_LIMIT: usize = 160;

/// What the property says about one tool call.
async fn check_call(
    server: &LiveChatServer,
    observer: &LastSentence,
    upstream: &Upstream,
    tally: &Tally,
    name: &str,
    args: Map<String, Value>,
) -> Result<(), TestCaseError> {
    let before = upstream.requests();
    let outcome = server.call(name, Some(args.clone())).await;
    tally.add(
        outcome
            .failure_kind
            .as_ref()
            .map_or("ok", FailureKind::as_str),
    );
    let sent = upstream.requests() - before;
    let text = text_of(&outcome.result);
    prop_assert_eq!(
        outcome.result.is_error == Some(true),
        outcome.failure_kind.is_some(),
        "is_error and the failure kind disagree: {}",
        text
    );
    match &outcome.failure_kind {
        Some(FailureKind::InvalidArguments) => {
            prop_assert_eq!(sent, 0, "invalid arguments, yet LiveChat got a request");
            prop_assert!(text.starts_with("invalid_arguments: "), "{}", text);
            let mut quoted = Vec::new();
            strings(&Value::Object(args), &mut quoted);
            for s in quoted.iter().filter(|s| s.chars().count() > QUOTED_LIMIT) {
                prop_assert!(
                    !text.contains(s.as_str()),
                    "the error quotes a {}-character value whole: {}",
                    s.chars().count(),
                    text.chars().take(1000).collect::<String>()
                );
            }
        }
        Some(FailureKind::NotAvailable) => {
            prop_assert_eq!(sent, 0, "a refused call reached LiveChat");
            prop_assert!(text.starts_with("not_available: "), "{}", text);
        }
        Some(other) => {
            return Err(TestCaseError::fail(format!(
                "the stand-in answers `{{}}`, yet the call failed with {other}: {text}"
            )));
        }
        None if name == "whoami" => prop_assert_eq!(sent, 0),
        None => {
            prop_assert_eq!(sent, 1, "an allowed call sends one request");
            // The body is the arguments as given, less top-level nulls.
            let body: Value = serde_json::from_slice(&lock(&upstream.last_body))
                .map_err(|e| TestCaseError::fail(format!("the request body is not JSON: {e}")))?;
            let mut want = args;
            want.retain(|_, v| !v.is_null());
            prop_assert_eq!(body, Value::Object(want));
        }
    }
    check_sentence(observer.take())
}

/// The tool-arguments property over `cases` inputs.
fn tool_arguments(cases: u32) {
    let rt = runtime();
    let upstream = rt.block_on(Upstream::start());
    let observer = Arc::new(LastSentence::default());
    let make = |version, access| {
        LiveChatServer::new(&settings(&upstream.url, version, access, bearer()))
            .expect("server")
            .with_observer(observer.clone())
    };
    let servers = [
        make(ApiVersion::V3_5, Level::Full),
        make(ApiVersion::V3_6, Level::Full),
        make(ApiVersion::V3_6, Level::Read),
    ];
    let mut calls = calls_of(0, ApiVersion::V3_5);
    calls.extend(calls_of(1, ApiVersion::V3_6));
    calls.extend(calls_of(2, ApiVersion::V3_6));
    // Names that are no tool, or that no agent may call.
    calls.push(
        (0usize..3, nasty_string(), any_json())
            .prop_map(|(server, name, args)| {
                let args = match args {
                    Value::Object(map) => map,
                    other => Map::from_iter([("value".to_string(), other)]),
                };
                (server, name, args)
            })
            .boxed(),
    );
    calls.push(
        (0usize..3, any_json())
            .prop_map(|(server, args)| {
                let args = match args {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
                (server, "whoami".to_string(), args)
            })
            .boxed(),
    );
    let tally = Tally::default();
    run(
        "tool arguments",
        cases,
        Union::new(calls),
        |(server, name, args)| {
            rt.block_on(async {
                tokio::time::timeout(
                    CASE_TIMEOUT,
                    check_call(&servers[server], &observer, &upstream, &tally, &name, args),
                )
                .await
                .map_err(|_| TestCaseError::fail("the call hung"))?
            })
        },
    );
    tally.print("tool arguments");
}

#[test]
fn fuzz_tool_arguments() {
    tool_arguments(CI_CASES);
}

#[test]
#[ignore = "long: cargo test --release --test fuzz -- --ignored"]
fn fuzz_tool_arguments_long() {
    tool_arguments(long_cases());
}

// ---------------------------------------------------------------------------------------------
// Upstream bodies.
// ---------------------------------------------------------------------------------------------

/// The form in which an answer echoes the credentials.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Echo {
    /// The token or PAT as it is.
    Raw,
    /// The whole `Authorization` value, `Bearer …` or `Basic …`.
    Header,
    /// The header value without its scheme (for a PAT, the base64 of `account:pat`).
    Encoded,
    /// The token with `/` written `\/`, as some JSON encoders do.
    SlashEscaped,
    /// The token with its letters written as `\uXXXX` escapes, as an ASCII-only encoder may.
    UnicodeEscaped,
}

const ECHOES: [Echo; 5] = [
    Echo::Raw,
    Echo::Header,
    Echo::Encoded,
    Echo::SlashEscaped,
    Echo::UnicodeEscaped,
];

/// The placeholder a generated body carries where the stand-in echoes a credential.
fn marker(echo: Echo) -> String {
    format!(
        "@@echo{}@@",
        ECHOES.iter().position(|e| *e == echo).unwrap_or(0)
    )
}

fn secret(credentials: &Credentials) -> String {
    match credentials {
        Credentials::Bearer(token) => token.expose().to_string(),
        Credentials::PersonalAccessToken { pat, .. } => pat.expose().to_string(),
    }
}

fn echoed(credentials: &Credentials, echo: Echo) -> String {
    let header = credentials.authorization().expose().to_string();
    let secret = secret(credentials);
    match echo {
        Echo::Raw => secret,
        Echo::Header => header.clone(),
        Echo::Encoded => header
            .split_once(' ')
            .map(|(_, v)| v.to_string())
            .unwrap_or(header),
        Echo::SlashEscaped => secret.replace('/', "\\/"),
        Echo::UnicodeEscaped => secret
            .chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("\\u{:04x}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect(),
    }
}

/// What must never come back in a tool result.
fn forbidden(credentials: &Credentials) -> Vec<String> {
    let header = credentials.authorization().expose().to_string();
    let mut words = vec![secret(credentials), header.clone()];
    if let Credentials::PersonalAccessToken { .. } = credentials
        && let Some((_, encoded)) = header.split_once(' ')
    {
        words.push(encoded.to_string());
    }
    words
}

/// A string that is sometimes a credential's placeholder, alone or inside text.
fn maybe_echo() -> BoxedStrategy<String> {
    prop_oneof![
        6 => nasty_string(),
        2 => select(ECHOES.to_vec()).prop_map(marker),
        1 => (nasty_string(), select(ECHOES.to_vec()), nasty_string())
            .prop_map(|(a, e, b)| format!("{a}{}{b}", marker(e))),
    ]
    .boxed()
}

/// A JSON value whose strings (keys too) are sometimes a credential's placeholder.
fn echoing_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        3 => scalar(),
        1 => maybe_echo().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((maybe_echo(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
    .boxed()
}

/// LiveChat's error types, and some it does not have.
const ERROR_TYPES: &[&str] = &[
    "authentication",
    "authorization",
    "validation",
    "not_found",
    "misdirected_request",
    "too_many_requests",
    "internal",
    "brand_new_type",
    "",
];

/// An error envelope, well formed or not quite.
fn envelope() -> BoxedStrategy<Value> {
    let kind = prop_oneof![
        4 => select(ERROR_TYPES).prop_map(|t| json!(t)),
        2 => maybe_echo().prop_map(Value::String),
        1 => scalar(),
    ];
    let message = prop_oneof![
        4 => maybe_echo().prop_map(Value::String),
        1 => scalar(),
    ];
    let data = prop_oneof![
        2 => echoing_json(),
        1 => "[a-z]{0,20}".prop_map(|r| json!({"region": r})),
    ];
    (
        prop::option::weighted(0.9, kind),
        prop::option::weighted(0.9, message),
        prop::option::weighted(0.5, data),
        prop::option::weighted(0.2, echoing_json()),
    )
        .prop_map(|(kind, message, data, other)| {
            let mut error = Map::new();
            for (key, value) in [("type", kind), ("message", message), ("data", data)] {
                if let Some(value) = value {
                    error.insert(key.to_string(), value);
                }
            }
            match other {
                // Sometimes `error` is not an object at all.
                Some(other) if !other.is_object() => json!({ "error": other }),
                _ => json!({ "error": error }),
            }
        })
        .boxed()
}

/// The largest answer the client reads in this property: small, so that the cap is met often.
const MAX_RESPONSE: usize = 16 * 1024;

/// A body: JSON (a result, an envelope, either broken), whitespace, bytes, or too big.
fn upstream_body() -> BoxedStrategy<Vec<u8>> {
    let json = prop_oneof![
        3 => echoing_json(),
        3 => envelope(),
    ]
    .prop_map(|v| v.to_string().into_bytes());
    prop_oneof![
        6 => json.clone(),
        2 => (json, prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4))
            .prop_map(|(mut body, flips)| {
                for (at, byte) in flips {
                    if !body.is_empty() {
                        let i = at.index(body.len());
                        body[i] = byte;
                    }
                }
                body
            }),
        1 => json_truncated(),
        1 => select(vec!["", " ", "\n\t\r ", "null", "[]", "\"text\"", "0"]).prop_map(|s| s.as_bytes().to_vec()),
        2 => prop::collection::vec(any::<u8>(), 0..512),
        1 => (maybe_echo(), maybe_echo()).prop_map(|(a, b)| {
            format!("<html><body>proxy error: Authorization: {a} ({b})</body></html>").into_bytes()
        }),
        1 => (MAX_RESPONSE - 64..MAX_RESPONSE + 64, any::<bool>()).prop_map(|(n, json)| {
            if json {
                format!("{{\"pad\":\"{}\"}}", "x".repeat(n.saturating_sub(10))).into_bytes()
            } else {
                vec![b'x'; n]
            }
        }),
    ]
    .boxed()
}

fn json_truncated() -> BoxedStrategy<Vec<u8>> {
    (envelope(), any::<prop::sample::Index>())
        .prop_map(|(v, at)| {
            let mut body = v.to_string().into_bytes();
            let cut = at.index(body.len().max(1));
            body.truncate(cut);
            body
        })
        .boxed()
}

/// One answer from LiveChat: which credentials the server holds, the status, the body (with
/// placeholders) and how it is sent.
#[derive(Clone, Debug)]
struct UpstreamCase {
    pat: bool,
    status: u16,
    body: Vec<u8>,
    chunk: Option<usize>,
}

fn upstream_case() -> impl Strategy<Value = UpstreamCase> {
    let status = prop_oneof![
        4 => Just(200u16),
        3 => select(vec![201u16, 204, 400, 401, 403, 404, 413, 421, 422, 429, 500, 502, 503, 504]),
        1 => 200u16..600,
    ];
    (
        any::<bool>(),
        status,
        upstream_body(),
        prop::option::weighted(0.3, 1usize..4096),
    )
        .prop_map(|(pat, status, body, chunk)| UpstreamCase {
            pat,
            status,
            body,
            chunk,
        })
}

/// `body` with every placeholder replaced by the credential form it stands for.
fn fill(body: &[u8], credentials: &Credentials) -> Vec<u8> {
    let mut out = body.to_vec();
    for echo in ECHOES {
        let needle = marker(echo).into_bytes();
        let with = echoed(credentials, echo).into_bytes();
        let mut filled = Vec::with_capacity(out.len());
        let mut rest = &out[..];
        while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
            filled.extend_from_slice(&rest[..at]);
            filled.extend_from_slice(&with);
            rest = &rest[at + needle.len()..];
        }
        filled.extend_from_slice(rest);
        out = filled;
    }
    out
}

/// Every credential form in the decoded strings (keys too) replaced by `[redacted]`.
fn redact_decoded(value: &mut Value, credentials: &Credentials) {
    let mut forms = forbidden(credentials);
    forms.extend(forms.clone().iter().map(|f| f.replace('/', "\\/")));
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let clean = |text: &str| {
        forms.iter().fold(text.to_string(), |t, form| {
            t.replace(form.as_str(), "[redacted]")
        })
    };
    match value {
        Value::String(text) => *text = clean(text),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| redact_decoded(v, credentials)),
        Value::Object(map) => {
            let fields = std::mem::take(map);
            for (key, mut v) in fields {
                redact_decoded(&mut v, credentials);
                map.insert(clean(&key), v);
            }
        }
        _ => {}
    }
}

/// What the client must make of `body` with `status`: the failure kind (`ok` for none) and a
/// phrase the error text holds, following the README: the size cap first, then LiveChat's
/// envelope whatever the status, then the status.
fn expected(status: u16, body: &[u8], credentials: &Credentials) -> (String, String) {
    let success = (200..300).contains(&status);
    if body.len() > MAX_RESPONSE {
        return ("response_too_large".into(), format!("{MAX_RESPONSE} bytes"));
    }
    // HTTP 429 without LiveChat's envelope means what the envelope's `too_many_requests`
    // does; either way, with no budget to wait in, the error says the quota is used up.
    let quota = || {
        (
            "too_many_requests".to_string(),
            "for the license's request quota".to_string(),
        )
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return if status == 429 {
            quota()
        } else if success {
            ("ok".into(), String::new())
        } else {
            ("bad_response".into(), "an empty body".into())
        };
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(&redact(body, credentials)) else {
        return if status == 429 {
            quota()
        } else {
            ("bad_response".into(), "not JSON".into())
        };
    };
    redact_decoded(&mut value, credentials);
    if let Some(error) = value.get("error").filter(|e| e.is_object()) {
        let kind = error.get("type").and_then(Value::as_str);
        let message = error.get("message").and_then(Value::as_str);
        if kind.is_some() || message.is_some() {
            let kind = kind.unwrap_or("unknown").to_string();
            if kind == "too_many_requests" {
                return quota();
            }
            let message = message.unwrap_or("(no message)");
            return (kind.clone(), format!("{kind}: {message}"));
        }
    }
    if success {
        ("ok".into(), String::new())
    } else if status == 429 {
        quota()
    } else {
        ("bad_response".into(), "not a LiveChat error".into())
    }
}

struct Decoding {
    upstream: Upstream,
    observer: Arc<LastSentence>,
    /// The server holding an OAuth token, and the one holding a PAT.
    bearer: LiveChatServer,
    pat: LiveChatServer,
    tally: Tally,
}

impl Decoding {
    async fn new() -> Decoding {
        let upstream = Upstream::start().await;
        let observer = Arc::new(LastSentence::default());
        let server = |credentials| {
            let mut s = settings(&upstream.url, ApiVersion::V3_6, Level::Full, credentials);
            s.max_response_bytes = MAX_RESPONSE;
            LiveChatServer::new(&s)
                .expect("server")
                .with_observer(observer.clone())
        };
        Decoding {
            bearer: server(bearer()),
            pat: server(pat()),
            upstream,
            observer,
            tally: Tally::default(),
        }
    }

    async fn check(&self, case: UpstreamCase) -> Result<(), TestCaseError> {
        let (server, credentials) = if case.pat {
            (&self.pat, pat())
        } else {
            (&self.bearer, bearer())
        };
        let body = fill(&case.body, &credentials);
        self.upstream.set(Answer {
            status: case.status,
            body: body.clone(),
            chunk: case.chunk,
        });
        let before = self.upstream.requests();
        let outcome = server.call("list_chats", Some(Map::new())).await;
        let sent = self.upstream.requests() - before;
        let text = text_of(&outcome.result);
        let structured = outcome
            .result
            .structured_content
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        for word in forbidden(&credentials) {
            prop_assert!(
                !text.contains(&word) && !structured.contains(&word),
                "the tool result holds the credential {:?}: {} {}",
                word,
                text.chars().take(2000).collect::<String>(),
                structured.chars().take(2000).collect::<String>()
            );
        }
        prop_assert!((1..=2).contains(&sent), "{} requests for one call", sent);
        // A 204 or 304 carries no body, whatever the stand-in was given.
        let received: &[u8] = if matches!(case.status, 204 | 304) {
            &[]
        } else {
            &body
        };
        let (kind, phrase) = expected(case.status, received, &credentials);
        let got = outcome
            .failure_kind
            .as_ref()
            .map_or("ok".to_string(), |k| k.as_str().to_string());
        self.tally.add(match got.as_str() {
            "ok" | "bad_response" | "response_too_large" => &got,
            _ => "livechat error",
        });
        prop_assert_eq!(
            &got,
            &kind,
            "{}",
            text.chars().take(2000).collect::<String>()
        );
        if kind != "ok" {
            prop_assert!(
                text.starts_with(&format!("{kind}: ")) && text.contains(&phrase),
                "the error does not say `{}`: {}",
                phrase,
                text.chars().take(2000).collect::<String>()
            );
        }
        check_sentence(self.observer.take())
    }
}

fn upstream_bodies(cases: u32) {
    let rt = runtime();
    let decoding = rt.block_on(Decoding::new());
    run("upstream bodies", cases, upstream_case(), |case| {
        rt.block_on(async {
            tokio::time::timeout(CASE_TIMEOUT, decoding.check(case))
                .await
                .map_err(|_| TestCaseError::fail("the call hung"))?
        })
    });
    decoding.tally.print("upstream bodies");
}

#[test]
fn fuzz_upstream_bodies() {
    upstream_bodies(CI_CASES);
}

#[test]
#[ignore = "long: cargo test --release --test fuzz -- --ignored"]
fn fuzz_upstream_bodies_long() {
    upstream_bodies(long_cases());
}

// ---------------------------------------------------------------------------------------------
// The JSON-RPC entry: stdio and HTTP.
// ---------------------------------------------------------------------------------------------

/// Well-formed messages a client sends, the seeds that mutations start from.
const SEED_LINES: &[&str] = &[
    r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    r#"{"jsonrpc":"2.0","id":"a-2","method":"tools/list"}"#,
    r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_chats","arguments":{"limit":2}}}"#,
    r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_chat","arguments":{"chat_id":"PJ0MRSHTDG"}}}"#,
    r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"send_event","arguments":{"chat_id":"PJ0MRSHTDG","event":{"type":"message","text":"hi"}}}}"#,
    r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#,
    r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"no_such_tool"}}"#,
    r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99}}"#,
    r#"{"jsonrpc":"2.0","id":8,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}"#,
    r#"{"jsonrpc":"2.0","id":9,"result":{}}"#,
    r#"{"jsonrpc":"2.0","id":10,"error":{"code":-32601,"message":"no"}}"#,
    r#"[{"jsonrpc":"2.0","id":11,"method":"ping"}]"#,
    r#"{"jsonrpc":"2.0","id":12,"method":"resources/list"}"#,
    r#"{"jsonrpc":"2.0","id":13,"method":"logging/setLevel","params":{"level":"debug"}}"#,
];

const METHODS: &[&str] = &[
    "ping",
    "tools/list",
    "tools/call",
    "initialize",
    "server/discover",
    "prompts/list",
    "completion/complete",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "",
];

/// A change to a line's bytes, at a position scaled to its length.
#[derive(Clone, Debug)]
enum Mutation {
    Set(prop::sample::Index, u8),
    Delete(prop::sample::Index, usize),
    Insert(prop::sample::Index, Vec<u8>),
    Truncate(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = select(b"{}[]\":,\\ \n\r\t0-.e\x00\xff\xc3\xa9".to_vec());
    prop_oneof![
        (
            any::<prop::sample::Index>(),
            prop_oneof![special.clone(), any::<u8>()]
        )
            .prop_map(|(at, b)| Mutation::Set(at, b)),
        (any::<prop::sample::Index>(), 1usize..8).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(prop_oneof![special, any::<u8>()], 1..8)
        )
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut line: Vec<u8>, mutations: Vec<Mutation>) -> Vec<u8> {
    for m in mutations {
        let len = line.len();
        let at = |i: &prop::sample::Index| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::Set(i, b) if len > 0 => {
                let i = i.index(len);
                line[i] = b;
            }
            Mutation::Set(..) => {}
            Mutation::Delete(i, n) => {
                let from = at(&i).min(len);
                line.drain(from..(from + n).min(len));
            }
            Mutation::Insert(i, bytes) => {
                let from = at(&i).min(len);
                line.splice(from..from, bytes);
            }
            Mutation::Truncate(i) => line.truncate(at(&i)),
        }
    }
    line
}

/// A JSON-RPC-shaped object whose every part may be wrong.
fn rpc_object() -> BoxedStrategy<Vec<u8>> {
    let id = prop_oneof![
        4 => (0i64..1000).prop_map(Value::from),
        2 => nasty_string().prop_map(Value::String),
        1 => number(),
        1 => Just(Value::Null),
        1 => any_json(),
    ];
    let tool = tools::all().map(|t| t.name.to_string()).collect::<Vec<_>>();
    let params = prop_oneof![
        2 => (select(tool), any_json()).prop_map(|(name, arguments)| json!({"name": name, "arguments": arguments})),
        1 => any_json(),
    ];
    (
        prop::option::weighted(0.9, prop_oneof![4 => Just(json!("2.0")), 1 => scalar()]),
        prop::option::weighted(0.8, id),
        prop::option::weighted(
            0.9,
            prop_oneof![4 => select(METHODS).prop_map(|m| json!(m)), 1 => scalar()],
        ),
        prop::option::weighted(0.6, params),
    )
        .prop_map(|(jsonrpc, id, method, params)| {
            let mut map = Map::new();
            for (key, value) in [
                ("jsonrpc", jsonrpc),
                ("id", id),
                ("method", method),
                ("params", params),
            ] {
                if let Some(value) = value {
                    map.insert(key.to_string(), value);
                }
            }
            Value::Object(map).to_string().into_bytes()
        })
        .boxed()
}

/// One line a client might send: a mutated well-formed message, a JSON-RPC-shaped object with
/// wrong parts, arbitrary text or arbitrary bytes.
fn rpc_line() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        4 => (select(SEED_LINES), prop::collection::vec(mutation(), 0..4))
            .prop_map(|(line, ms)| mutate(line.as_bytes().to_vec(), ms)),
        3 => rpc_object(),
        1 => any::<String>().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => (select(SEED_LINES), prop::collection::vec(mutation(), 0..4), 1000usize..100_000)
            .prop_map(|(line, ms, pad)| {
                // A long line: the text of a message padded inside its first string.
                let mut line = line.replacen("\"2.0\"", &format!("\"2.0{}\"", " ".repeat(pad)), 1);
                if line.is_empty() {
                    line.push(' ');
                }
                mutate(line.into_bytes(), ms)
            }),
    ]
    .boxed()
}

/// What one line must get back.
#[derive(Debug, PartialEq)]
enum Expect {
    /// A blank line: nothing.
    Nothing,
    /// Not JSON: one `-32700` answer.
    ParseError,
    /// A request with an id: one answer with that id, or one `-32600` with a null id when
    /// its shape is wrong.
    Answer(Value),
    /// Other JSON (a notification, a response, a wrong shape without an id): at most one
    /// `-32600` with a null id.
    MaybeInvalid,
}

fn expect(line: &[u8]) -> Expect {
    if std::str::from_utf8(line).is_ok_and(|t| t.trim().is_empty()) {
        return Expect::Nothing;
    }
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return Expect::ParseError;
    };
    match (value.get("method"), value.get("id")) {
        (Some(_), Some(id)) if id.is_string() || id.is_number() => Expect::Answer(id.clone()),
        _ => Expect::MaybeInvalid,
    }
}

/// The lines the stdio guard sees in `bytes`: split at `\n`, a `\r` before it dropped.
fn lines_of(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect()
}

/// Whether an answer's id is the request's: the same string, or the same number (rmcp answers
/// `1.0` as `1`, as a JSON-RPC client comparing numbers expects).
fn same_id(sent: &Value, answered: &Value) -> bool {
    match (sent.as_f64(), answered.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => sent == answered,
    }
}

fn error_code(answer: &Value) -> Option<i64> {
    answer.get("error")?.get("code")?.as_i64()
}

/// Whether an answer with `id` and error `code` is the one answer a line of `expect` is owed:
/// the parse error for a line that is not JSON; for a request, the answer with its id, or the
/// invalid-request error (null id) when its shape is wrong.
fn settles(expect: &Expect, id: &Value, code: Option<i64>) -> bool {
    match expect {
        Expect::ParseError => code == Some(-32700),
        Expect::Answer(want) => same_id(want, id) || (id.is_null() && code == Some(-32600)),
        Expect::Nothing | Expect::MaybeInvalid => false,
    }
}

/// A live stdio session: the guard in front of rmcp in front of the server.
struct StdioSession {
    input: tokio::io::DuplexStream,
    output: tokio::io::Lines<BufReader<tokio::io::DuplexStream>>,
    sentinel: u64,
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}"#;

impl StdioSession {
    async fn open(server: LiveChatServer) -> Result<StdioSession, TestCaseError> {
        let (input, server_in) = tokio::io::duplex(1 << 16);
        let (server_out, output) = tokio::io::duplex(1 << 16);
        let guarded = stdio::guard(server_in, server_out);
        tokio::spawn(async move {
            if let Ok(running) = server.serve(guarded.transport).await {
                let _ = running.waiting().await;
            }
        });
        let mut session = StdioSession {
            input,
            output: BufReader::new(output).lines(),
            sentinel: 0,
        };
        session.send(INITIALIZE.as_bytes()).await?;
        let answer = session.next().await?;
        prop_assert_eq!(&answer["id"], "init", "{}", answer);
        session
            .send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await?;
        Ok(session)
    }

    async fn send(&mut self, line: &[u8]) -> Result<(), TestCaseError> {
        let written = async {
            self.input.write_all(line).await?;
            self.input.write_all(b"\n").await
        };
        written
            .await
            .map_err(|e| TestCaseError::fail(format!("the server stopped reading: {e}")))
    }

    /// The next answer (server notifications are skipped).
    async fn next(&mut self) -> Result<Value, TestCaseError> {
        loop {
            let line = match tokio::time::timeout(Duration::from_secs(10), self.output.next_line())
                .await
            {
                Ok(Ok(Some(line))) => line,
                Ok(_) => return Err(TestCaseError::fail("the session ended")),
                Err(_) => return Err(TestCaseError::fail("no answer within 10 s")),
            };
            let answer: Value = serde_json::from_str(&line)
                .map_err(|e| TestCaseError::fail(format!("an answer is not JSON ({e}): {line}")))?;
            if answer.get("result").is_some() || answer.get("error").is_some() {
                return Ok(answer);
            }
        }
    }

    /// Sends one line and checks what comes back, up to a `ping` sent after it.
    async fn check_line(&mut self, line: &[u8], tally: &Tally) -> Result<(), TestCaseError> {
        let expect = expect(line);
        tally.add(match &expect {
            Expect::Nothing => "blank",
            Expect::ParseError => "not json",
            Expect::Answer(_) => "request",
            Expect::MaybeInvalid => "other json",
        });
        self.send(line).await?;
        self.sentinel += 1;
        let sentinel = json!(format!("sentinel-{}", self.sentinel));
        self.send(
            json!({"jsonrpc": "2.0", "id": sentinel, "method": "ping"})
                .to_string()
                .as_bytes(),
        )
        .await?;
        let mut owed = !matches!(expect, Expect::Nothing | Expect::MaybeInvalid);
        let mut invalid_allowed = matches!(expect, Expect::MaybeInvalid);
        let mut sentinel_seen = false;
        while owed || !sentinel_seen {
            let answer = self.next().await?;
            let id = &answer["id"];
            let code = error_code(&answer);
            if *id == sentinel {
                sentinel_seen = true;
            } else if owed && settles(&expect, id, code) {
                owed = false;
            } else if invalid_allowed && id.is_null() && code == Some(-32600) {
                invalid_allowed = false;
            } else {
                return Err(TestCaseError::fail(format!(
                    "an answer nobody asked for ({expect:?} was sent): {answer}"
                )));
            }
        }
        Ok(())
    }
}

/// Every line is sent on a fresh session, so one input cannot change what the next one meets.
async fn stdio_case(
    server: &LiveChatServer,
    case: &[Vec<u8>],
    tally: &Tally,
) -> Result<(), TestCaseError> {
    let mut session = StdioSession::open(server.clone()).await?;
    for bytes in case {
        for line in lines_of(bytes) {
            session.check_line(line, tally).await?;
        }
    }
    Ok(())
}

/// The HTTP app with one agent allowed everything, and an initialised session.
struct HttpEntry {
    app: axum::Router,
    key: String,
    session: String,
    tally: Tally,
}

impl HttpEntry {
    async fn new(upstream: &Upstream) -> HttpEntry {
        let key = new_key();
        let policy = Policy::parse(
            &format!(
                "[agents.fuzz]\naccess = {{ \"*\" = \"full\" }}\nkey_sha256 = \"{}\"\n",
                key_sha256(&key)
            ),
            "fuzz-policy.toml",
        )
        .expect("policy");
        let settings = settings(&upstream.url, ApiVersion::V3_6, Level::Full, bearer());
        let setup =
            HttpSetup::from_policy(policy, &settings, None, HttpOptions::default()).expect("setup");
        let app = http_app(HttpState::new(setup).expect("state"));
        let mut entry = HttpEntry {
            app,
            key,
            session: String::new(),
            tally: Tally::default(),
        };
        let response = entry
            .post(
                INITIALIZE.as_bytes().to_vec(),
                Some("application/json"),
                false,
            )
            .await;
        entry.session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session id")
            .to_string();
        let response = entry
            .post(
                br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec(),
                Some("application/json"),
                true,
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        entry
    }

    async fn post(
        &self,
        body: Vec<u8>,
        content_type: Option<&str>,
        session: bool,
    ) -> Response<Body> {
        let mut request = Request::post("/mcp")
            .header("host", "127.0.0.1")
            .header("authorization", format!("Bearer {}", self.key))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if session {
            request = request.header("mcp-session-id", &self.session);
        }
        let request = request.body(Body::from(body)).expect("request");
        match self.app.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    async fn check(
        &self,
        body: Vec<u8>,
        content_type: Option<&str>,
        session: bool,
    ) -> Result<(), TestCaseError> {
        let essence = content_type.map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok();
        let is_message = serde_json::from_slice::<ClientJsonRpcMessage>(&body).is_ok();
        let expect = expect(&body);
        let response = self.post(body.clone(), content_type, session).await;
        let status = response.status();
        let media = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| TestCaseError::fail(format!("the answer broke off: {e}")))?;
        let text = String::from_utf8_lossy(&bytes);
        self.tally.add(status.as_str());
        prop_assert!(!status.is_server_error(), "HTTP {}: {}", status, text);
        let says_json = essence
            .as_deref()
            .is_some_and(|e| e == "application/json" || e.ends_with("+json"));
        // Too large: 413 once the body is read, which it is not under another content type.
        if body.len() > HttpOptions::default().max_body_bytes {
            if says_json {
                prop_assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{}", text);
            } else {
                prop_assert!(
                    [
                        StatusCode::PAYLOAD_TOO_LARGE,
                        StatusCode::UNSUPPORTED_MEDIA_TYPE
                    ]
                    .contains(&status),
                    "HTTP {}: {}",
                    status,
                    text
                );
            }
            return Ok(());
        }
        // The content type rmcp takes never gets 415, whatever the body.
        if essence.as_deref() == Some("application/json") {
            prop_assert_ne!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", text);
        }
        // A body that says it is JSON and is no JSON-RPC message gets a JSON-RPC error.
        if says_json && !is_message {
            prop_assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text);
            let answer: Value = serde_json::from_slice(&bytes)
                .map_err(|_| TestCaseError::fail(format!("a 400 that is not JSON: {text}")))?;
            // The invalid request's id is the body's, when it has one a client could match.
            let id = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|b| b.get("id").cloned())
                .filter(|id| id.is_string() || id.is_number())
                .unwrap_or(Value::Null);
            let (code, id) = if is_json {
                (-32600, id)
            } else {
                (-32700, Value::Null)
            };
            prop_assert_eq!(error_code(&answer), Some(code), "{}", answer);
            prop_assert!(same_id(&answer["id"], &id), "{}", answer);
            return Ok(());
        }
        let Expect::Answer(id) = expect else {
            return Ok(());
        };
        if status != StatusCode::OK {
            return Ok(());
        }
        // One answer, with the request's id, as one JSON object or in one SSE event.
        let answers: Vec<Value> = if media.starts_with("text/event-stream") {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .filter(|v| v.get("result").is_some() || v.get("error").is_some())
                .collect()
        } else {
            vec![
                serde_json::from_slice(&bytes)
                    .map_err(|_| TestCaseError::fail(format!("a 200 that is not JSON: {text}")))?,
            ]
        };
        prop_assert_eq!(answers.len(), 1, "{}", text);
        let answer = &answers[0];
        prop_assert!(
            same_id(&answer["id"], &id)
                || (answer["id"].is_null() && answer.get("error").is_some()),
            "the answer to id {} is {}",
            id,
            answer
        );
        Ok(())
    }
}

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("Application/JSON"),
    Some("application/vnd.api+json"),
    Some("text/plain"),
    None,
];

fn json_rpc_entry(cases: u32) {
    let rt = runtime();
    let upstream = rt.block_on(Upstream::start());
    let server = LiveChatServer::new(&settings(
        &upstream.url,
        ApiVersion::V3_6,
        Level::Full,
        bearer(),
    ))
    .expect("server");
    let http = rt.block_on(HttpEntry::new(&upstream));
    let stdio_tally = Tally::default();
    let case = (
        prop::collection::vec(rpc_line(), 1..4),
        prop_oneof![6 => Just(Some("application/json")), 1 => select(CONTENT_TYPES)],
        prop::bool::weighted(0.8),
    );
    run(
        "json-rpc entry",
        cases,
        case,
        |(lines, content_type, session)| {
            rt.block_on(async {
                let checks = async {
                    stdio_case(&server, &lines, &stdio_tally).await?;
                    for line in &lines {
                        http.check(line.clone(), content_type, session).await?;
                    }
                    Ok(())
                };
                tokio::time::timeout(CASE_TIMEOUT, checks)
                    .await
                    .map_err(|_| TestCaseError::fail("the case hung"))?
            })
        },
    );
    stdio_tally.print("json-rpc entry, stdio lines");
    http.tally.print("json-rpc entry, HTTP statuses");
}

#[test]
fn fuzz_json_rpc_entry() {
    json_rpc_entry(CI_CASES);
}

#[test]
#[ignore = "long: cargo test --release --test fuzz -- --ignored"]
fn fuzz_json_rpc_entry_long() {
    json_rpc_entry(long_cases());
}

/// Found by the JSON-RPC property: JSON that is not a JSON-RPC message got rmcp's 415 in plain
/// text, without the id; it gets 400 with `-32600` and the id.
#[tokio::test]
async fn http_json_that_is_no_json_rpc_message_gets_invalid_request_with_its_id() {
    let upstream = Upstream::start().await;
    let http = HttpEntry::new(&upstream).await;
    for (body, id) in [
        (r#"{"jsonrpc":"2.0","id":5,"method":7}"#, json!(5)),
        (r#"{"jsonrpc":"1.0","id":"a","method":"ping"}"#, json!("a")),
        (r#"[{"jsonrpc":"2.0","id":6,"method":"ping"}]"#, Value::Null),
        ("{}", Value::Null),
    ] {
        let response = http
            .post(body.as_bytes().to_vec(), Some("application/json"), true)
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let answer: Value = serde_json::from_slice(&bytes).expect("a JSON answer");
        assert_eq!(answer["error"]["code"], -32600, "{answer}");
        assert_eq!(answer["id"], id, "{answer}");
    }
    // Not JSON at all, though it starts as a message: still the parse error.
    let response = http
        .post(b"{} oops".to_vec(), Some("application/json"), true)
        .await;
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&bytes).expect("a JSON answer");
    assert_eq!(answer["error"]["code"], -32700, "{answer}");
}
