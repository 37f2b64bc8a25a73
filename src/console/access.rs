//! The access page: the grid of agents × areas, each cell off, read or full, saved as one
//! form; a page per agent (its LiveChat identity, limits, approvals, drafts, the tools its
//! grants give, and its key); adding and removing agents. Every change is one
//! [`PolicyFile::edit`] (checked as `serve` would check the file, saved atomically with a
//! `.bak`) and one audit row per change, in words: `admin set chats to read for support-bot`.
//!
//! [`PolicyFile::edit`]: crate::policy::file::PolicyFile::edit

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
    time::{Duration, Instant},
};

use askama::Template;
use axum::{
    Extension, Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use toml_edit::{DocumentMut, InlineTable, Item, Table, TableLike, Value};

use super::{Chrome, ConsoleState, auth::Session, render};
use crate::{
    audit::NewEntry,
    policy::{
        AgentPolicy, Approver, Level, LiveChatIdentity, check_agent_name,
        file::{Change, EditError},
        key_sha256,
    },
    tools::{Access, Area, ToolSpec},
};

pub(super) fn routes() -> Router<Arc<ConsoleState>> {
    Router::new()
        .route("/console", get(grid))
        .route("/console/access", post(save_grid))
        .route("/console/agents", post(add_agent))
        .route("/console/agents/{name}", get(agent_page))
        .route("/console/agents/{name}/key", post(make_key))
        .route("/console/agents/{name}/remove", post(remove_agent))
}

// ---------------------------------------------------------------------------------------------
// What each area allows, worked out once.

/// An area as the pages show it: its plain name, and the tools `read` and `full` give.
struct AreaInfo {
    name: &'static str,
    label: &'static str,
    reads: Vec<&'static str>,
    writes: Vec<&'static str>,
    /// The column's tooltip: what each level allows.
    title: String,
}

static AREAS: LazyLock<Vec<AreaInfo>> = LazyLock::new(|| {
    Area::ALL
        .into_iter()
        .map(|area| {
            let names = |access: Access| -> Vec<&'static str> {
                area.tools()
                    .iter()
                    .filter(|spec: &&ToolSpec| spec.access == access)
                    .map(|spec| spec.name)
                    .collect()
            };
            let (reads, writes) = (names(Access::Read), names(Access::Write));
            let title = format!(
                "{}. Read allows: {}. Full also allows: {}.",
                area.label(),
                listed(&reads, "nothing"),
                listed(&writes, "nothing more")
            );
            AreaInfo {
                name: area.as_str(),
                label: area.label(),
                reads,
                writes,
                title,
            }
        })
        .collect()
});

fn listed(names: &[&str], none: &str) -> String {
    if names.is_empty() {
        none.to_string()
    } else {
        names.join(", ")
    }
}

fn area_info(area: Area) -> &'static AreaInfo {
    // `AREAS` holds every area, in `Area::ALL` order.
    let index = Area::ALL.iter().position(|a| *a == area).unwrap_or(0);
    &AREAS[index]
}

/// The levels a cell offers: the value posted, and the word shown.
const LEVELS: [(&str, &str); 3] = [("off", "Off"), ("read", "Read"), ("full", "Full")];

// ---------------------------------------------------------------------------------------------
// Notes: what a change did, shown on the page a change redirects to.

/// The outcome of a change, kept on the server for the page a POST redirects to (`/console?
/// note=ID`) so that no link can make the console show words of its own choosing. A note is
/// readable only by the session that made it, for [`NOTE_LIFETIME`].
struct Note {
    text: String,
    problem: bool,
    csrf: String,
    made: Instant,
}

const NOTE_LIFETIME: Duration = Duration::from_secs(600);
const MAX_NOTES: usize = 256;

static NOTES: LazyLock<Mutex<HashMap<String, Note>>> = LazyLock::new(Default::default);

fn notes() -> std::sync::MutexGuard<'static, HashMap<String, Note>> {
    match NOTES.lock() {
        Ok(notes) => notes,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// 303 to the grid, which shows `text` in `#status`, or in `#problem` when `problem`.
fn back_to_grid(session: &Session, text: String, problem: bool) -> Response {
    let id = crate::digest::sha256_hex(&crate::http::new_key())[..24].to_string();
    let now = Instant::now();
    let mut notes = notes();
    notes.retain(|_, n| now.duration_since(n.made) < NOTE_LIFETIME);
    while notes.len() >= MAX_NOTES {
        let Some(oldest) = notes
            .iter()
            .min_by_key(|(_, n)| n.made)
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        notes.remove(&oldest);
    }
    notes.insert(
        id.clone(),
        Note {
            text,
            problem,
            csrf: session.csrf.clone(),
            made: now,
        },
    );
    Redirect::to(&format!("/console?note={id}")).into_response()
}

fn read_note(session: &Session, query: Option<&str>) -> Option<(String, bool)> {
    let id = form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "note")
        .map(|(_, v)| v.into_owned())?;
    let notes = notes();
    let note = notes.get(&id)?;
    (note.csrf == session.csrf && note.made.elapsed() < NOTE_LIFETIME)
        .then(|| (note.text.clone(), note.problem))
}

// ---------------------------------------------------------------------------------------------
// The grid.

struct Row {
    name: String,
    has_key: bool,
    cells: Vec<Cell>,
}

struct Cell {
    area: &'static str,
    label: &'static str,
    level: &'static str,
}

#[derive(Template)]
#[template(path = "access.html", config = "src/console/askama.toml")]
struct GridPage {
    chrome: Chrome,
    problem: Option<String>,
    areas: &'static [AreaInfo],
    levels: [(&'static str, &'static str); 3],
    rows: Vec<Row>,
}

/// `GET /console`: the grid.
async fn grid(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    RawQuery(query): RawQuery,
) -> Response {
    let policy = state.policy.current();
    let rows = policy
        .agents()
        .map(|agent| Row {
            name: agent.name.clone(),
            has_key: agent.key_sha256.is_some(),
            cells: Area::ALL
                .into_iter()
                .map(|area| Cell {
                    area: area.as_str(),
                    label: area.label(),
                    level: agent.grants.level(area).as_str(),
                })
                .collect(),
        })
        .collect();
    let (flash, problem) = match read_note(&session, query.as_deref()) {
        Some((text, true)) => (None, Some(text)),
        Some((text, false)) => (Some(text), None),
        None => (None, None),
    };
    render(&GridPage {
        chrome: Chrome::new("access", &session).with_flash(flash),
        problem,
        areas: &AREAS,
        levels: LEVELS,
        rows,
    })
}

/// One cell the form changes: agent, area, new level.
type CellChange = (String, Area, Level);

/// The cells of a posted grid whose `level.NAME.AREA` differs from its `was.NAME.AREA` (a
/// cell without `was` counts as changed), or what is wrong with the form, naming it.
fn changed_cells(form: &[u8], agents: &dyn Fn(&str) -> bool) -> Result<Vec<CellChange>, String> {
    let mut levels: Vec<(String, Area, Level)> = Vec::new();
    let mut was: HashMap<(String, Area), Level> = HashMap::new();
    for (field, value) in form_urlencoded::parse(form) {
        if field == "csrf" {
            continue;
        }
        let (kind, rest) = match field.split_once('.') {
            Some((kind @ ("level" | "was"), rest)) => (kind, rest),
            _ => {
                return Err(format!(
                    "The form has a field `{field}` that the grid does not have."
                ));
            }
        };
        let Some((name, area_word)) = rest.rsplit_once('.') else {
            return Err(format!(
                "The form's field `{field}` names no area; it should read `{kind}.AGENT.AREA`."
            ));
        };
        if !agents(name) {
            return Err(format!(
                "The form names an agent `{name}` that the policy does not have (it may have been removed meanwhile); nothing was saved. Reload the page and try again."
            ));
        }
        let Some(area) = Area::parse(area_word) else {
            let names: Vec<&str> = Area::ALL.iter().map(|a| a.as_str()).collect();
            return Err(format!(
                "The form names an area `{area_word}` for agent `{name}` that does not exist (areas: {}); nothing was saved.",
                names.join(", ")
            ));
        };
        let Some(level) = Level::parse(&value) else {
            return Err(format!(
                "The form sets `{area_word}` of agent `{name}` to `{value}`, which is not a level (off, read or full); nothing was saved."
            ));
        };
        if kind == "level" {
            levels.push((name.to_string(), area, level));
        } else {
            was.insert((name.to_string(), area), level);
        }
    }
    let mut changes: Vec<CellChange> = Vec::new();
    for (name, area, level) in levels {
        if was.get(&(name.clone(), area)) == Some(&level) {
            continue;
        }
        changes.retain(|(n, a, _)| !(n == &name && *a == area));
        changes.push((name, area, level));
    }
    Ok(changes)
}

/// `POST /console/access`: saves the cells changed on this form, and only those, so a form
/// loaded before someone else's change does not undo it.
async fn save_grid(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    form: Bytes,
) -> Response {
    let current = state.policy.current();
    let changes = match changed_cells(&form, &|name| current.agent(name).is_some()) {
        Ok(changes) => changes,
        Err(why) => {
            return problem_page(
                StatusCode::BAD_REQUEST,
                &session,
                "Not saved",
                &why,
                "/console",
            );
        }
    };
    let asked = !changes.is_empty();
    // What the policy already says needs no saving.
    let changes: Vec<CellChange> = changes
        .into_iter()
        .filter(|(name, area, level)| {
            current
                .agent(name)
                .is_none_or(|a| a.grants.level(*area) != *level)
        })
        .collect();
    if changes.is_empty() {
        let text = if asked {
            "Nothing to save: the policy already says that."
        } else {
            "Nothing to save: no cell was changed."
        };
        return back_to_grid(&session, text.to_string(), false);
    }
    let edits = changes.clone();
    let result = edit(&state, move |doc| {
        for (name, area, level) in &edits {
            set_level(doc, name, *area, *level)?;
        }
        Ok(())
    })
    .await;
    let change = match result {
        Ok(change) => change,
        Err(error) => return back_to_grid(&session, error.to_string(), true),
    };
    // The rows say what changed in force, whatever the form said.
    let words: Vec<String> = changes
        .iter()
        .filter_map(|(name, area, _)| {
            let before = change.before.agent(name).map(|a| a.grants.level(*area));
            let after = change.after.agent(name)?.grants.level(*area);
            (before != Some(after))
                .then(|| format!("set {} to {} for {name}", area.as_str(), after.as_str()))
        })
        .collect();
    let mut text = match words.len() {
        0 => "Saved; the policy already said that.".to_string(),
        1 => format!("Saved: {}.", shown_change(&words[0])),
        n => format!(
            "Saved {n} changes: {}.",
            words
                .iter()
                .map(|w| shown_change(w))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    if let Some(warning) = record(&state, &words).await {
        text.push(' ');
        text.push_str(&warning);
    }
    back_to_grid(&session, text, false)
}

/// A change as the status line shows it: `chats set to read for support-bot`.
fn shown_change(words: &str) -> String {
    words
        .strip_prefix("set ")
        .unwrap_or(words)
        .replacen(" to ", " set to ", 1)
}

// ---------------------------------------------------------------------------------------------
// One agent.

struct GrantShown {
    label: &'static str,
    name: &'static str,
    level: &'static str,
    tools: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "agent.html", config = "src/console/askama.toml")]
struct AgentPage {
    chrome: Chrome,
    name: String,
    identity: String,
    calls_per_minute: String,
    writes_per_minute: String,
    approve: Vec<String>,
    approvers: String,
    draft: bool,
    grants: Vec<GrantShown>,
    has_key: bool,
}

/// `GET /console/agents/{name}`.
async fn agent_page(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    let policy = state.policy.current();
    let Some(agent) = policy.agent(&name) else {
        return no_such_agent(&session, &name);
    };
    render(&agent_view(&session, agent))
}

fn agent_view(session: &Session, agent: &AgentPolicy) -> AgentPage {
    let limit = |n: Option<u32>| n.map_or_else(|| "no limit".to_string(), |n| n.to_string());
    let approve = agent
        .approval
        .needs
        .iter()
        .map(|need| match Area::parse(need) {
            Some(area) => format!("every change in “{}” ({need})", area.label()),
            None => need.clone(),
        })
        .collect();
    let approvers = match agent.approval.approvers.as_slice() {
        [Approver::Console] => "a person in this console",
        [Approver::Client] => "the person using the AI client",
        _ => "a person in this console, or the person using the AI client",
    }
    .to_string();
    let grants = agent
        .grants
        .describe()
        .into_iter()
        .filter(|(_, level)| *level != Level::Off)
        .map(|(area, level)| {
            let info = area_info(area);
            let mut tools = info.reads.clone();
            if level == Level::Full {
                tools.extend(info.writes.iter().copied());
            }
            GrantShown {
                label: info.label,
                name: info.name,
                level: level.as_str(),
                tools,
            }
        })
        .collect();
    AgentPage {
        chrome: Chrome::new("access", session),
        name: agent.name.clone(),
        identity: identity_words(agent.livechat.as_ref()),
        calls_per_minute: limit(agent.limits.calls_per_minute),
        writes_per_minute: limit(agent.limits.writes_per_minute),
        approve,
        approvers,
        draft: agent.draft,
        grants,
        has_key: agent.key_sha256.is_some(),
    }
}

/// Which LiveChat identity the agent acts as, in words: the names of the variables that
/// hold its credentials at most, never a value.
fn identity_words(identity: Option<&LiveChatIdentity>) -> String {
    match identity {
        None => "The server's LiveChat token: it acts as the server does.".to_string(),
        Some(LiveChatIdentity::Token { token_env }) => {
            format!("Its own LiveChat token, from the environment variable {token_env}.")
        }
        Some(LiveChatIdentity::Pat {
            pat_env,
            account_id_env,
        }) => format!(
            "Its own personal access token, from the environment variables {pat_env} (the token) and {account_id_env} (the account ID)."
        ),
        Some(LiveChatIdentity::Bot { groups }) => {
            let groups: Vec<String> = groups.iter().map(u32::to_string).collect();
            format!(
                "A LiveChat bot of its own (made by `livechat-mcp bots provision`), in group{} {}.",
                if groups.len() == 1 { "" } else { "s" },
                groups.join(", ")
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys, adding and removing agents.

#[derive(Template)]
#[template(path = "agent_key.html", config = "src/console/askama.toml")]
struct KeyPage {
    chrome: Chrome,
    name: String,
    key: String,
    heading: String,
    rotated: bool,
}

/// `POST /console/agents/{name}/key`: a new key for the agent, shown once on this response;
/// the policy keeps only its SHA-256. An old key stops working.
async fn make_key(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Response {
    if state.policy.current().agent(&name).is_none() {
        return no_such_agent(&session, &name);
    }
    let key = crate::http::new_key();
    let hash = key_sha256(&key);
    let target = name.clone();
    let result = edit(&state, move |doc| {
        set_value(agent_table(doc, &target)?, "key_sha256", Value::from(hash))
    })
    .await;
    let change = match result {
        Ok(change) => change,
        Err(error) => return edit_refused(&session, &error, &format!("/console/agents/{name}")),
    };
    let rotated = change
        .before
        .agent(&name)
        .is_some_and(|a| a.key_sha256.is_some());
    let words = if rotated {
        format!("rotated the key of {name}")
    } else {
        format!("made a key for {name}")
    };
    let mut chrome = Chrome::new("access", &session);
    chrome.flash = record(&state, std::slice::from_ref(&words)).await;
    render(&KeyPage {
        chrome,
        heading: if rotated {
            format!("New key for {name}")
        } else {
            format!("Key for {name}")
        },
        name,
        key,
        rotated,
    })
}

/// `POST /console/agents` with `name`: a new agent with nothing granted and a fresh key,
/// shown once.
async fn add_agent(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    form: Bytes,
) -> Response {
    let name = form_field(&form, "name").unwrap_or_default();
    let name = name.trim().to_string();
    if let Err(why) = check_agent_name(&name) {
        return problem_page(
            StatusCode::BAD_REQUEST,
            &session,
            "Agent not added",
            &format!("The agent name `{name}` {why}. Nothing was saved."),
            "/console",
        );
    }
    let key = crate::http::new_key();
    let hash = key_sha256(&key);
    let target = name.clone();
    let result = edit(&state, move |doc| new_agent(doc, &target, &hash)).await;
    if let Err(error) = result {
        return edit_refused(&session, &error, "/console");
    }
    let words = format!("added agent {name}");
    let mut chrome = Chrome::new("access", &session);
    chrome.flash = record(&state, std::slice::from_ref(&words)).await;
    render(&KeyPage {
        chrome,
        heading: format!("Added {name}"),
        name,
        key,
        rotated: false,
    })
}

#[derive(Template)]
#[template(path = "agent_remove.html", config = "src/console/askama.toml")]
struct RemovePage {
    chrome: Chrome,
    name: String,
    problem: Option<String>,
}

/// `POST /console/agents/{name}/remove` with `confirm` = the agent's name: removes it; without
/// the name typed, a page that asks for it.
async fn remove_agent(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    form: Bytes,
) -> Response {
    if state.policy.current().agent(&name).is_none() {
        return no_such_agent(&session, &name);
    }
    let confirm = form_field(&form, "confirm").map(|c| c.trim().to_string());
    if confirm.as_deref() != Some(name.as_str()) {
        let problem = confirm
            .filter(|c| !c.is_empty())
            .map(|typed| format!("You typed `{typed}`, not `{name}`, so {name} was not removed."));
        return render(&RemovePage {
            chrome: Chrome::new("access", &session),
            name,
            problem,
        });
    }
    let target = name.clone();
    let result = edit(&state, move |doc| {
        agents_table(doc)?
            .remove(&target)
            .map(|_| ())
            .ok_or_else(|| no_agent_in_file(&target))
    })
    .await;
    if let Err(error) = result {
        return edit_refused(&session, &error, &format!("/console/agents/{name}"));
    }
    let words = format!("removed agent {name}");
    let mut text = format!("Removed agent {name}.");
    if let Some(warning) = record(&state, std::slice::from_ref(&words)).await {
        text.push(' ');
        text.push_str(&warning);
    }
    back_to_grid(&session, text, false)
}

// ---------------------------------------------------------------------------------------------
// Editing the file.

/// `edit` applied to the policy file off the async threads (it reads, fsyncs and renames).
async fn edit(
    state: &ConsoleState,
    edit: impl FnOnce(&mut DocumentMut) -> Result<(), String> + Send + 'static,
) -> Result<Change, EditError> {
    let file = state.policy.clone();
    match tokio::task::spawn_blocking(move || file.edit(edit)).await {
        Ok(result) => result,
        Err(error) => Err(EditError::Io(format!("the edit stopped: {error}"))),
    }
}

fn no_agent_in_file(name: &str) -> String {
    format!(
        "the policy file has no agent `{name}` now (was it removed meanwhile?); nothing was saved"
    )
}

fn agents_table(doc: &mut DocumentMut) -> Result<&mut dyn TableLike, String> {
    doc.get_mut("agents")
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| "the policy file has no `[agents]`; nothing was saved".to_string())
}

/// The agent's table (`[agents.NAME]`, or inline).
fn agent_table<'d>(doc: &'d mut DocumentMut, name: &str) -> Result<&'d mut Item, String> {
    agents_table(doc)?
        .get_mut(name)
        .filter(|item| item.is_table_like())
        .ok_or_else(|| no_agent_in_file(name))
}

/// `agents.NAME.access.AREA = "level"`, in the form the file already uses (an inline table
/// or an `[agents.NAME.access]` table); `access = {}` is added when the agent has none.
fn set_level(doc: &mut DocumentMut, name: &str, area: Area, level: Level) -> Result<(), String> {
    let agent = agent_table(doc, name)?;
    let missing = agent.get("access").is_none();
    if missing {
        set_value(agent, "access", Value::InlineTable(InlineTable::new()))?;
    }
    let access = agent
        .get_mut("access")
        .filter(|item| item.is_table_like())
        .ok_or_else(|| format!("`access` of agent `{name}` is not a table; nothing was saved"))?;
    set_value(access, area.as_str(), Value::from(level.as_str()))
}

/// `key = value` in `table` (a table or an inline table), keeping the spacing and comment
/// around an old value, and the spacing of an inline table that gets a new key.
fn set_value(table: &mut Item, key: &str, value: Value) -> Result<(), String> {
    let keep_decor = |old: &mut Value, mut value: Value| {
        *value.decor_mut() = old.decor().clone();
        *old = value;
    };
    match table {
        Item::Table(table) => match table.get_mut(key).and_then(Item::as_value_mut) {
            Some(old) => keep_decor(old, value),
            None => {
                table.insert(key, Item::Value(value));
            }
        },
        Item::Value(Value::InlineTable(table)) => match table.get_mut(key) {
            Some(old) => keep_decor(old, value),
            None => {
                // The space before `}` moves from the old last value to the new one.
                let mut value = value;
                if let Some((_, last)) = table.iter_mut().last() {
                    let suffix = last
                        .decor()
                        .suffix()
                        .and_then(|s| s.as_str())
                        .map(str::to_string);
                    if let Some(suffix) = suffix.filter(|s| s.trim().is_empty()) {
                        last.decor_mut().set_suffix("");
                        value.decor_mut().set_suffix(suffix);
                    }
                }
                table.insert(key, value);
            }
        },
        _ => {
            return Err(format!(
                "`{key}` cannot be set here: not a table; nothing was saved"
            ));
        }
    }
    Ok(())
}

/// `[agents.NAME]` with `access = {}` and `key_sha256`, or the same as an inline table when
/// the file writes `agents` inline.
fn new_agent(doc: &mut DocumentMut, name: &str, hash: &str) -> Result<(), String> {
    if doc.get("agents").is_none() {
        let mut agents = Table::new();
        agents.set_implicit(true);
        doc.insert("agents", Item::Table(agents));
    }
    let mut fields = InlineTable::new();
    fields.insert("access", Value::InlineTable(InlineTable::new()));
    fields.insert("key_sha256", Value::from(hash));
    let exists = || format!("there is already an agent `{name}`; nothing was saved");
    match doc.get_mut("agents") {
        Some(Item::Table(agents)) => {
            if agents.contains_key(name) {
                return Err(exists());
            }
            agents.insert(name, Item::Table(fields.into_table()));
        }
        Some(Item::Value(Value::InlineTable(agents))) => {
            if agents.contains_key(name) {
                return Err(exists());
            }
            agents.insert(name, Value::InlineTable(fields));
        }
        _ => return Err("`agents` in the policy file is not a table; nothing was saved".into()),
    }
    Ok(())
}

/// Appends a row per change to the audit trail, if the console has one: `None` when all were
/// recorded (or there is no trail), else a warning for the page. The change is saved either
/// way.
async fn record(state: &ConsoleState, changes: &[String]) -> Option<String> {
    let audit = state.audit.as_ref()?;
    for words in changes {
        if let Err(error) = audit.append(NewEntry::policy_change(words)).await {
            tracing::error!("console: the audit trail did not record `{words}`: {error}");
            return Some(format!(
                "The change is saved, but the audit trail could not record it: {error}"
            ));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Pages for what went wrong.

#[derive(Template)]
#[template(path = "access_problem.html", config = "src/console/askama.toml")]
struct ProblemPage<'a> {
    chrome: Chrome,
    heading: &'a str,
    message: &'a str,
    back: &'a str,
}

fn problem_page(
    status: StatusCode,
    session: &Session,
    heading: &str,
    message: &str,
    back: &str,
) -> Response {
    let mut response = render(&ProblemPage {
        chrome: Chrome::new("access", session),
        heading,
        message,
        back,
    });
    *response.status_mut() = status;
    response
}

/// An edit the policy file refused, with its message exactly as [`EditError`] gives it.
fn edit_refused(session: &Session, error: &EditError, back: &str) -> Response {
    let status = match error {
        EditError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        EditError::Invalid(_) | EditError::Refused(_) | EditError::DiskInvalid(_) => {
            StatusCode::CONFLICT
        }
    };
    problem_page(status, session, "Not saved", &error.to_string(), back)
}

fn no_such_agent(session: &Session, name: &str) -> Response {
    problem_page(
        StatusCode::NOT_FOUND,
        session,
        "No such agent",
        &format!("The policy has no agent `{name}`."),
        "/console",
    )
}

fn form_field(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> DocumentMut {
        text.parse().unwrap()
    }

    #[test]
    fn only_cells_that_differ_from_what_the_form_showed_are_changed() {
        let agents = |name: &str| ["a", "b.c"].contains(&name);
        let form = b"csrf=x&level.a.chats=read&was.a.chats=off&level.a.events=full&was.a.events=full&level.b.c.routing=off&was.b.c.routing=full";
        assert_eq!(
            changed_cells(form, &agents).unwrap(),
            vec![
                ("a".to_string(), Area::Chats, Level::Read),
                ("b.c".to_string(), Area::Routing, Level::Off)
            ]
        );
        // Without `was`, a cell counts as changed.
        assert_eq!(
            changed_cells(b"level.a.groups=full", &agents).unwrap(),
            vec![("a".to_string(), Area::Groups, Level::Full)]
        );
        for (form, named) in [
            (&b"level.zed.chats=read"[..], "`zed`"),
            (b"level.a.chatz=read", "`chatz`"),
            (b"level.a.chats=all", "`all`"),
            (b"was.a.chats=none", "`none`"),
            (b"levels.a.chats=read", "`levels.a.chats`"),
            (b"level.a=read", "`level.a`"),
        ] {
            let why = changed_cells(form, &agents).unwrap_err();
            assert!(why.contains(named), "{why}");
        }
    }

    #[test]
    fn levels_are_set_in_the_form_the_file_uses() {
        let mut inline = doc("[agents.a]\naccess = { chats = \"read\" } # grants\n");
        set_level(&mut inline, "a", Area::Chats, Level::Full).unwrap();
        set_level(&mut inline, "a", Area::Events, Level::Read).unwrap();
        assert_eq!(
            inline.to_string(),
            "[agents.a]\naccess = { chats = \"full\", events = \"read\" } # grants\n"
        );
        let mut table = doc("[agents.a.access]\nchats = \"read\" # why\n");
        set_level(&mut table, "a", Area::Chats, Level::Off).unwrap();
        set_level(&mut table, "a", Area::Routing, Level::Full).unwrap();
        assert_eq!(
            table.to_string(),
            "[agents.a.access]\nchats = \"off\" # why\nrouting = \"full\"\n"
        );
        let mut none = doc("[agents.a]\ndraft = true\n");
        set_level(&mut none, "a", Area::Chats, Level::Read).unwrap();
        assert_eq!(
            none.to_string(),
            "[agents.a]\ndraft = true\naccess = { chats = \"read\" }\n"
        );
        let mut inline_agents = doc("agents = { a = { draft = true } }\n");
        set_level(&mut inline_agents, "a", Area::Chats, Level::Read).unwrap();
        assert_eq!(
            inline_agents.to_string(),
            "agents = { a = { draft = true, access = { chats = \"read\" } } }\n"
        );
        let why = set_level(&mut doc("[agents.a]\n"), "b", Area::Chats, Level::Read).unwrap_err();
        assert!(why.contains("no agent `b`"), "{why}");
    }

    #[test]
    fn new_agents_get_a_table_of_their_own() {
        let hash = "a".repeat(64);
        let mut d = doc("# top\n[agents.a]\naccess = {}\n\n[admin]\nkey_sha256 = \"x\"\n");
        new_agent(&mut d, "b.c", &hash).unwrap();
        assert_eq!(
            d.to_string(),
            format!(
                "# top\n[agents.a]\naccess = {{}}\n\n[agents.\"b.c\"]\naccess = {{}}\nkey_sha256 = \"{hash}\"\n\n[admin]\nkey_sha256 = \"x\"\n"
            )
        );
        assert!(
            new_agent(&mut d, "a", &hash)
                .unwrap_err()
                .contains("already")
        );
        let mut empty = doc("");
        new_agent(&mut empty, "x", &hash).unwrap();
        assert_eq!(
            empty.to_string(),
            format!("[agents.x]\naccess = {{}}\nkey_sha256 = \"{hash}\"\n")
        );
    }

    #[test]
    fn every_area_has_a_label_and_tools() {
        let labels: std::collections::HashSet<_> = AREAS.iter().map(|a| a.label).collect();
        assert_eq!(labels.len(), Area::ALL.len());
        for info in AREAS.iter() {
            assert!(!info.reads.is_empty() || !info.writes.is_empty());
            assert_eq!(area_info(Area::parse(info.name).unwrap()).name, info.name);
        }
    }
}
