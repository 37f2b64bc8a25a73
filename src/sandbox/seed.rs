//! The sandbox license: the built-in deterministic seed, and loading a JSON scenario in its
//! place (`--sandbox-seed FILE`, same format as [`DEFAULT_SEED`]; see `model.rs` for every
//! field).
//!
//! # What the built-in license holds
//!
//! The sandbox token acts as **`agent@sandbox.test`** ("Sam Sandbox", the owner), a member of
//! groups 0 and 1. The clock stands at `2026-03-02T09:30:00.000000Z` and advances one second
//! per new timestamp; new IDs come from a counter, so a fresh sandbox always answers the same.
//!
//! - **Agents** (5, one of them a bot):
//!   - `agent@sandbox.test`: Sam Sandbox, owner, accepting chats; groups 0 and 1.
//!   - `smith@example.com`: Agent Smith, administrator, accepting chats; groups 0 and 19.
//!   - `jones@example.com`: Agent Jones, normal, accepting chats; groups 0 and 19 (`last`).
//!   - `lee@example.com`: Kim Lee, normal, offline; groups 0 and 1.
//!   - `5c9871d5372c824cbf22d860a707a578`: ChatBot, a bot of app `0805e283233042b37f460ed8fbf22160`
//!     (secret `641e2ae6d997d2009a3ac92a05f37fc3`; not the requester's), accepting chats, `first` in groups
//!     0 and 1. Bots are not listed by `list_agents` but appear in routing statuses, groups and
//!     chats.
//! - **Groups** (3): `0` General (everyone), `1` Billing, `19` Sport shoes.
//! - **Tags** (6): `support`, `sales`, `complaint`, `spam`, `positive feedback` (group 0,
//!   `sales` also 19), `refund` (group 1). `Billing` is *not* a tag: `tag_thread` with it fails
//!   until `create_tag` defines it.
//! - **Properties** (11): namespace `routing`: `pinned` (bool, chat and thread) and
//!   `unassigned` (bool, read-only). Namespace `0805e283233042b37f460ed8fbf22160` (the client
//!   ID): `source` (chat), `string_property` (chat, thread, event), `int_property` (chat,
//!   event; 0–100), `bool_property` (thread), `topic` (thread), `ticket` (event), `priority`
//!   (chat; `low`/`normal`/`high`), all published; `draft_note` (chat), registered but not
//!   published, so it cannot hold values until `publish_property`; and `banner` (license and
//!   group, published for reading, default `Welcome!`), set on the license to `Spring sale: 20%
//!   off` and in group 1 to `Questions about an invoice?`.
//! - **Customers** (6):
//!   - `b7eff798-f8df-4364-8059-649c35c9ed0c`: Thomas Anderson, t.anderson@example.com (PL).
//!   - `7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d`: Maria Garcia (US).
//!   - `3e9b8c7d-6a5f-4e3d-9c2b-1a0f9e8d7c6b`: Li Wei (DE).
//!   - `5f6e7d8c-9b0a-4c1d-a2e3-f4a5b6c7d8e9`: Olivia Brown (GB).
//!   - `9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d`: Noah Williams (US).
//!   - `0d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a`: Emma Novak, no chats, banned by Agent Smith
//!     until `2026-03-05T11:20:00.000000Z` (last visit from IP `192.0.2.200`).
//! - **Chats** (5, 2 active, 7 threads):
//!   - `PJ0MRSHTDG` (group 0, **active**): Thomas and Sam about a refund. Thread `K600PKZON8`
//!     (archived, tag `support`; event `K600PKZON8_1` is ChatBot's quick reply with postbacks
//!     `action_yes`/`action_no`), then the active thread `QR8E5RKF2C`, which has an internal
//!     note (`visibility: agents`).
//!   - `PT9XK2L4MN` (group 0, **active**): Li Wei and Agent Jones; the requester is not in it.
//!   - `PWJ8Y4THAV` (group 19, archived): Maria and Agent Smith, thread `QA37PVJ75B` (`sales`).
//!     The requester is not in group 19: with only `chats--access:*` scopes it is out of reach.
//!   - `PB4DF8GH2J` (group 1, archived): Olivia, Sam and Kim Lee; threads `QC5M9R3T7W`
//!     (`complaint`, `refund`) and `QD8K3L6P1V` (`positive feedback`).
//!   - `PZ5N8B1C4X` (group 0, archived): Noah and ChatBot, thread `QF2G6H9J3K`.
//! - **Webhooks** (1): `pqi8oasdjahuakndw9nsad9na`, `chat_deactivated`, owner client
//!   `0805e283233042b37f460ed8fbf22160`, to `https://example.com/…`: its deliveries are
//!   queued, but the sandbox sends only to loopback addresses, so it never gets them.
//! - **Routing statuses**: Sam, Smith, Jones and ChatBot accept chats; Kim Lee is offline.
//!
//! # Scenario files
//!
//! A scenario is the same JSON: `requester`, `now`, and lists of `agents`, `groups` (each
//! with optional property `properties`), `tags`, `properties`, `customers`, `chats` (with
//! `threads` and their `events`) and `webhooks`, and the license's `license_properties`.
//! Loading checks references (users, groups, authors) and fills defaults: event IDs
//! (`<thread>_<n>`), thread `user_ids` and `access`, agents' `account_id`. Group 0 must exist.
//! `default_seed_json()` prints the built-in one as a starting point.

use std::collections::BTreeSet;

use crate::error::StartError;

/// A scenario error: the field and what is wrong with it.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(StartError::Scenario(format!($($arg)*)))
    };
}
use serde_json::Value;

use super::{
    ids::uuid_for,
    model::{Access, Scenario},
    time,
};

/// The built-in license, as a JSON scenario.
pub const DEFAULT_SEED: &str = include_str!("seed.json");

/// Parses and checks a scenario; `source` names it in errors.
pub fn load(text: &str, source: &str) -> Result<Scenario, StartError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let scenario: Scenario = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| StartError::Scenario(format!("{source}: `{}`: {}", e.path(), e.inner())))?;
    prepare(scenario)
        .map_err(|e| StartError::Scenario(format!("{source}: not a usable sandbox scenario: {e}")))
}

/// Checks references and fills defaults.
pub fn prepare(mut s: Scenario) -> Result<Scenario, StartError> {
    s.now = ts(&s.now, "now")?;

    let mut agent_ids = BTreeSet::new();
    for (i, a) in s.agents.iter_mut().enumerate() {
        if !agent_ids.insert(a.id.clone()) {
            bail!("agents[{i}]: duplicate agent `{}`", a.id);
        }
        one_of(
            &a.role,
            &["owner", "viceowner", "administrator", "normal"],
            &format!("agents[{i}].role"),
        )?;
        one_of(
            &a.routing_status,
            &["accepting_chats", "not_accepting_chats", "offline"],
            &format!("agents[{i}].routing_status"),
        )?;
        if a.account_id.is_empty() {
            a.account_id = uuid_for(&a.id);
        }
        if let Some(t) = &a.last_logout {
            a.last_logout = Some(ts(t, &format!("agents[{i}].last_logout"))?);
        }
    }
    match s.agents.iter().find(|a| a.id == s.requester) {
        Some(a) if !a.bot => {}
        Some(_) => bail!(
            "`requester` `{}` is a bot; it must be an agent",
            s.requester
        ),
        None => bail!("`requester` `{}` is not among the agents", s.requester),
    }

    let mut group_ids = BTreeSet::new();
    for (i, g) in s.groups.iter().enumerate() {
        if !group_ids.insert(g.id) {
            bail!("groups[{i}]: duplicate group {}", g.id);
        }
        for (agent, priority) in &g.agent_priorities {
            if !agent_ids.contains(agent) {
                bail!("groups[{i}].agent_priorities: unknown agent `{agent}`");
            }
            one_of(
                priority,
                &["first", "normal", "last", "supervisor"],
                &format!("groups[{i}].agent_priorities.{agent}"),
            )?;
        }
    }
    if !group_ids.contains(&0) {
        bail!("`groups` must include group 0 (General)");
    }

    let mut tag_names = BTreeSet::new();
    for (i, t) in s.tags.iter_mut().enumerate() {
        if !tag_names.insert(t.name.to_lowercase()) {
            bail!("tags[{i}]: duplicate tag `{}`", t.name);
        }
        known_groups(&t.group_ids, &group_ids, &format!("tags[{i}].group_ids"))?;
        t.created_at = ts(&t.created_at, &format!("tags[{i}].created_at"))?;
    }

    let mut property_keys = BTreeSet::new();
    for (i, p) in s.properties.iter().enumerate() {
        if !property_keys.insert((p.owner_client_id.clone(), p.name.clone())) {
            bail!(
                "properties[{i}]: duplicate property `{}.{}`",
                p.owner_client_id,
                p.name
            );
        }
        one_of(
            &p.kind,
            &["int", "bool", "string", "tokenized_string"],
            &format!("properties[{i}].type"),
        )?;
    }

    let mut customer_ids = BTreeSet::new();
    for (i, c) in s.customers.iter_mut().enumerate() {
        if !customer_ids.insert(c.id.clone()) {
            bail!("customers[{i}]: duplicate customer `{}`", c.id);
        }
        c.created_at = ts(&c.created_at, &format!("customers[{i}].created_at"))?;
        if let Some(t) = &c.banned_until {
            c.banned_until = Some(ts(t, &format!("customers[{i}].banned_until"))?);
        }
        if let Some(t) = &c.banned_at {
            c.banned_at = Some(ts(t, &format!("customers[{i}].banned_at"))?);
        }
    }

    let mut chat_ids = BTreeSet::new();
    let mut thread_ids = BTreeSet::new();
    for (i, chat) in s.chats.iter_mut().enumerate() {
        let at = format!("chats[{i}]");
        if !chat_ids.insert(chat.id.clone()) {
            bail!("{at}: duplicate chat `{}`", chat.id);
        }
        if chat.access.group_ids.is_empty() {
            chat.access = Access::default();
        }
        known_groups(
            &chat.access.group_ids,
            &group_ids,
            &format!("{at}.access.group_ids"),
        )?;
        for (j, u) in chat.users.iter_mut().enumerate() {
            let known = match u.kind.as_str() {
                "agent" => agent_ids.contains(&u.id),
                "customer" => customer_ids.contains(&u.id),
                other => bail!("{at}.users[{j}].type: `{other}` is not `agent` or `customer`"),
            };
            if !known {
                bail!("{at}.users[{j}]: unknown {} `{}`", u.kind, u.id);
            }
            if let Some(t) = &u.events_seen_up_to {
                u.events_seen_up_to = Some(ts(t, &format!("{at}.users[{j}].events_seen_up_to"))?);
            }
        }
        if chat.users.iter().filter(|u| u.kind == "customer").count() > 1 {
            bail!("{at}.users: a chat has at most one customer");
        }
        let user_ids: Vec<String> = chat.users.iter().map(|u| u.id.clone()).collect();
        let access = chat.access.clone();
        let count = chat.threads.len();
        for (j, thread) in chat.threads.iter_mut().enumerate() {
            let at = format!("{at}.threads[{j}]");
            if !thread_ids.insert(thread.id.clone()) {
                bail!("{at}: duplicate thread `{}`", thread.id);
            }
            thread.created_at = ts(&thread.created_at, &format!("{at}.created_at"))?;
            if thread.active && j + 1 != count {
                bail!("{at}: only a chat's last thread can be active");
            }
            if thread.user_ids.is_empty() {
                thread.user_ids = user_ids.clone();
            }
            if thread.access.is_none() {
                thread.access = Some(access.clone());
            }
            let mut event_ids = BTreeSet::new();
            for (k, event) in thread.events.iter_mut().enumerate() {
                let at = format!("{at}.events[{k}]");
                let id = match event.get("id") {
                    Some(Value::String(id)) => id.clone(),
                    None => format!("{}_{}", thread.id, k + 1),
                    Some(_) => bail!("{at}.id must be a string"),
                };
                if !event_ids.insert(id.clone()) {
                    bail!("{at}: duplicate event `{id}`");
                }
                let created = match event.get("created_at") {
                    Some(Value::String(t)) => ts(t, &format!("{at}.created_at"))?,
                    _ => bail!("{at}.created_at is required"),
                };
                if event.get("type").and_then(Value::as_str).is_none() {
                    bail!("{at}.type is required");
                }
                if let Some(author) = event.get("author_id").and_then(Value::as_str)
                    && !agent_ids.contains(author)
                    && !customer_ids.contains(author)
                {
                    bail!("{at}.author_id: unknown user `{author}`");
                }
                event.insert("id".into(), Value::String(id));
                event.insert("created_at".into(), Value::String(created));
                event
                    .entry("visibility")
                    .or_insert_with(|| Value::String("all".into()));
            }
        }
        chat.threads.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    }
    Ok(s)
}

fn ts(text: &str, field: &str) -> Result<String, StartError> {
    time::normalize(text).ok_or_else(|| {
        StartError::Scenario(format!(
            "{field}: `{text}` is not an RFC 3339 date-time (2026-03-02T09:30:00.000000Z)"
        ))
    })
}

fn one_of(value: &str, allowed: &[&str], field: &str) -> Result<(), StartError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        bail!("{field}: `{value}` is not one of {}", allowed.join(", "))
    }
}

fn known_groups(ids: &[u32], known: &BTreeSet<u32>, field: &str) -> Result<(), StartError> {
    match ids.iter().find(|id| !known.contains(id)) {
        Some(id) => bail!("{field}: unknown group {id}"),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_seed_loads() {
        let s = load(DEFAULT_SEED, "built-in seed").unwrap();
        assert_eq!(s.requester, "agent@sandbox.test");
        assert_eq!(s.agents.len(), 5);
        assert_eq!(s.chats.len(), 5);
        let first = &s.chats[0].threads[0].events[0];
        assert_eq!(first["id"], "K600PKZON8_1");
    }

    #[test]
    fn bad_scenarios_are_explained() {
        let err = load("{\"requester\": 1}", "x.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.json") && err.contains("requester"), "{err}");
        let text = DEFAULT_SEED.replace("\"id\": 19,", "\"id\": 20,");
        let err = format!("{:#}", load(&text, "x.json").unwrap_err());
        assert!(err.contains("unknown group 19"), "{err}");
        let text = DEFAULT_SEED.replace(
            "\"requester\": \"agent@sandbox.test\"",
            "\"requester\": \"nobody@x.test\"",
        );
        let err = format!("{:#}", load(&text, "x.json").unwrap_err());
        assert!(err.contains("nobody@x.test"), "{err}");
    }
}
