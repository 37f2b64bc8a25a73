//! What `tools/list` costs an assistant: every byte of it is read into the model's context.
//! The limits are the figures the tool surface reached; growing past them is a deliberate
//! change of this file. `cargo test --test context_budget -- --nocapture` prints the figures.

mod common;

use livechat_mcp::{
    events::{EventLog, LogOptions},
    policy::Level,
    server::LiveChatServer,
    version::ApiVersion,
};
use rmcp::model::ListToolsResult;

/// All tools granted, v3.6: the whole `tools/list` result as compact JSON. The first 45 tools
/// stood at 37,671 bytes (46 with `whoami`; 117,865 before the compaction). Issue 12 added 20
/// methods a support agent needs (bots, following, read marks, indicators, summaries, suspension,
/// license webhooks, bans): 66 tools, 48,306 bytes, 731 per tool (819 before). Five more
/// (`multicast` and the four property listings/unregistering) took it to 71 tools, 50,609
/// bytes, 712 per tool, after shortening their own texts (`multicast` shows its recipients as
/// a bare object): the budget was raised with the average still under `PER_TOOL_36_MAX`.
/// `upload_file` made it 72 tools, 51,179 bytes, 710 per tool. Issue 14 asks the reading tools
/// whose answers carry customers' text to say it is data, not instructions: 41 bytes on each of
/// six tools, 51,384 bytes (713 per tool); the budget was raised by half a KiB for that alone.
const ALL_36_MAX: usize = 50 * 1024 + 512;
/// What an average tool may cost, v3.6, all granted: adding tools raises the total, never this.
const PER_TOOL_36_MAX: usize = 820;
/// Read-only tools, v3.6 (the original target, 12 KiB; 19 tools, 11,377 bytes). Raised with
/// three property listings: 22 tools, 12,720 bytes, 578 per tool.
const READ_36_MAX: usize = 13 * 1024;
/// What `get_events` may add, on a server that keeps events (issue 13): 702 bytes, its four
/// arguments described in a few words each. The catalog's budgets above stay as they are.
const EVENTS_MAX: usize = 720;
/// The largest single tool, any version (target 4 KiB; `send_event` is 3,323 bytes).
const TOOL_MAX: usize = 3584;

struct Figures {
    total: usize,
    tools: usize,
    largest: (usize, String),
}

/// A server with all of `access` in `version`; with an event log (and so `get_events`) when
/// `events` names where to keep it.
fn measure(version: ApiVersion, access: Level, events: Option<&std::path::Path>) -> Figures {
    let settings = common::settings("http://127.0.0.1:9", version, access);
    let mut server = LiveChatServer::new(&settings).expect("server");
    if let Some(path) = events {
        let log = EventLog::open_sqlite(path, LogOptions::default()).expect("event log");
        server = server.with_events(log);
    }
    let tools = server.tools();
    let largest = tools
        .iter()
        .map(|t| {
            (
                serde_json::to_vec(t).expect("json").len(),
                t.name.to_string(),
            )
        })
        .max()
        .unwrap_or_default();
    let count = tools.len();
    let total = serde_json::to_vec(&ListToolsResult::with_all_items(tools))
        .expect("json")
        .len();
    Figures {
        total,
        tools: count,
        largest,
    }
}

#[test]
fn tools_list_stays_within_its_budget() {
    // Every figure is printed before any is judged, so a failure shows them all.
    let dir = common::TempDir::new("context-budget");
    let log = dir.join("audit.db.events");
    let mut worst_tool = (0, String::new());
    let mut over = Vec::new();
    for version in [ApiVersion::V3_5, ApiVersion::V3_6] {
        for (label, access, events) in [
            ("all", Level::Full, None),
            ("all, with events", Level::Full, Some(log.as_path())),
            ("read-only", Level::Read, None),
            ("read-only, with events", Level::Read, Some(log.as_path())),
        ] {
            let f = measure(version, access, events);
            println!(
                "tools/list v{version} {label}: {} tools, {} bytes (~{} tokens, {} per tool), largest `{}` {} bytes",
                f.tools,
                f.total,
                f.total / 4,
                f.total / f.tools.max(1),
                f.largest.1,
                f.largest.0
            );
            worst_tool = worst_tool.max(f.largest);
            if version == ApiVersion::V3_6 {
                let max = if access == Level::Full {
                    ALL_36_MAX
                } else {
                    READ_36_MAX
                } + if events.is_some() { EVENTS_MAX } else { 0 };
                if access == Level::Full && f.total / f.tools.max(1) > PER_TOOL_36_MAX {
                    over.push(format!(
                        "tools/list v3.6 {label} averages {} bytes a tool, over {PER_TOOL_36_MAX}",
                        f.total / f.tools.max(1)
                    ));
                }
                if f.total > max {
                    over.push(format!(
                        "tools/list v3.6 {label} is {} bytes, over its budget of {max}",
                        f.total
                    ));
                }
            }
        }
    }
    assert!(over.is_empty(), "{}", over.join("; "));
    assert!(
        worst_tool.0 <= TOOL_MAX,
        "`{}` is {} bytes, over the per-tool budget of {TOOL_MAX}",
        worst_tool.1,
        worst_tool.0
    );
}
