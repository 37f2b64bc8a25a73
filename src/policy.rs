//! Who may call which tools: the per-agent access policy file (`policy.toml`).
//!
//! The file is parsed completely into a [`Policy`] or rejected with an error that names the file,
//! the line and the offending word; it is never half-applied. Anything not granted is denied.
//!
//! ```toml
//! [agents.support-bot]
//! access = { chats = "read", events = "full", chat_properties = "full" }
//! approve = ["send_event"]   # optional: calls that wait for a person (tools, or areas' writes)
//! approvers = ["console", "client"]   # optional: who may approve them (both by default)
//! draft = false              # optional: true sends its customer-visible messages as notes
//!
//! [agents.auditor]
//! access = { "*" = "read", customers = "off" }
//! key_sha256 = "…"           # SHA-256 hex of this agent's bearer key (hosted HTTP server)
//! limits = { calls_per_minute = 60, writes_per_minute = 10 }   # optional, rolling minute
//! [agents.auditor.livechat]  # optional: this agent's own LiveChat identity
//! pat_env = "AUDITOR_LIVECHAT_PAT"
//! account_id_env = "AUDITOR_LIVECHAT_ACCOUNT_ID"   # or `token_env = "…"` alone
//!
//! [admin]                    # optional: the key that reads `/metrics` and `/healthz` detail
//! key_sha256 = "…"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

mod approval;
pub mod diff;
pub mod file;

pub use crate::quota::Limits;
use crate::quota::MAX_PER_MINUTE;
use crate::tools::{Access, Area, ToolSpec};
pub use approval::{ApprovalRule, Approver};

/// How much of an area an agent may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// None of the area's tools.
    Off,
    /// The area's read-only tools (`ToolSpec.access == Access::Read`).
    Read,
    /// All of the area's tools, those that change something included.
    Full,
}

impl Level {
    /// Every level, from least to most.
    pub const ALL: [Level; 3] = [Level::Off, Level::Read, Level::Full];

    /// The level's name in the policy file and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Read => "read",
            Level::Full => "full",
        }
    }

    /// The level called `name` (`off`, `read` or `full`, lowercase), if there is one.
    pub fn parse(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// Whether a tool that `access`es this way is allowed at this level.
    const fn allows(self, access: Access) -> bool {
        match self {
            Level::Off => false,
            Level::Read => matches!(access, Access::Read),
            Level::Full => true,
        }
    }
}

/// On the command line (`--access`) only `read` and `full` are offered: a local run with
/// nothing granted has no use.
impl clap::ValueEnum for Level {
    fn value_variants<'a>() -> &'a [Self] {
        &[Level::Read, Level::Full]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self {
            Level::Off => return None,
            Level::Read => {
                "Only tools that read; nothing reaches a customer or changes the license"
            }
            Level::Full => "Every tool, writes included",
        };
        Some(clap::builder::PossibleValue::new(self.as_str()).help(help))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one agent may do in each area: a default level (`"*"`) and per-area overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grants {
    /// The level of every area without an override; `Off` unless the file says `"*"`.
    default: Level,
    /// Areas named in the file; they win over `default`, in either direction.
    areas: BTreeMap<Area, Level>,
}

impl Default for Grants {
    /// Nothing granted: every area `Off`.
    fn default() -> Self {
        Grants::uniform(Level::Off)
    }
}

impl Grants {
    /// The same level in every area; used for the local agent from `--access read|full`.
    pub fn uniform(level: Level) -> Grants {
        Grants {
            default: level,
            areas: BTreeMap::new(),
        }
    }

    /// Only `area`, at `level`: what `bots provision` acts with (the agents area).
    pub fn only(area: Area, level: Level) -> Grants {
        Grants {
            default: Level::Off,
            areas: BTreeMap::from([(area, level)]),
        }
    }

    /// The effective level in `area`: its own entry, else `"*"`, else `Off`.
    pub fn level(&self, area: Area) -> Level {
        self.areas.get(&area).copied().unwrap_or(self.default)
    }

    /// Whether the tool may be called: `Full` allows any tool of its area, `Read` only the
    /// read-only ones, `Off` none.
    pub fn allows(&self, spec: &ToolSpec) -> bool {
        self.level(spec.area).allows(spec.access)
    }

    /// The same grants with every area `keep` refuses turned off (`--toolsets`).
    pub fn within(&self, keep: impl Fn(Area) -> bool) -> Grants {
        Grants {
            default: Level::Off,
            areas: Area::ALL
                .into_iter()
                .filter(|&area| keep(area))
                .map(|area| (area, self.level(area)))
                .collect(),
        }
    }

    /// Every area with its effective level, in `Area::ALL` order.
    pub fn describe(&self) -> Vec<(Area, Level)> {
        Area::ALL
            .into_iter()
            .map(|area| (area, self.level(area)))
            .collect()
    }
}

/// Where an agent's own LiveChat credentials come from: the *names* of environment variables,
/// never the secrets themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveChatIdentity {
    /// A bearer (OAuth) token in the variable `token_env`.
    Token { token_env: String },
    /// A personal access token in `pat_env`, with the account ID it belongs to in
    /// `account_id_env` (LiveChat's Basic auth).
    Pat {
        pat_env: String,
        account_id_env: String,
    },
    /// `identity = "bot"`: a LiveChat bot of its own, made by `livechat-mcp bots provision`
    /// in `groups` (group 0 when the file names none), whose tokens the server issues.
    Bot { groups: Vec<u32> },
}

/// One `[agents.NAME]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentPolicy {
    /// The agent's name: non-empty, letters, digits, `.`, `_`, `-`, at most 64 characters.
    pub name: String,
    /// The areas and levels granted; everything else is denied.
    pub grants: Grants,
    /// SHA-256 of the agent's bearer key for the hosted HTTP server, 64 lowercase hex digits.
    /// The raw key is never stored.
    pub key_sha256: Option<String>,
    /// The agent's own LiveChat identity; `None` means the server's.
    pub livechat: Option<LiveChatIdentity>,
    /// The agent's call quotas (`limits = { … }`); unlimited when the file sets none.
    pub limits: Limits,
    /// Which of its calls wait for a person (`approve`, `approvers`).
    pub approval: ApprovalRule,
    /// Its customer-visible messages go out as internal notes (`draft = true`).
    pub draft: bool,
}

/// A whole policy file: the agents by name, sorted, and the admin key's hash.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    agents: BTreeMap<String, AgentPolicy>,
    /// SHA-256 of the admin key (`[admin] key_sha256`), which reads `/metrics` and the
    /// detail of `/healthz` on the hosted server. Never an agent's key.
    admin_key_sha256: Option<String>,
}

impl Policy {
    /// Reads and parses the policy file at `path`; errors name the file.
    pub fn load(path: &Path) -> Result<Policy, String> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{label}: cannot read the policy file: {e}"))?;
        Policy::parse(&text, &label)
    }

    /// Parses policy text; `file_label` names the file in errors, as `file_label:LINE: …`.
    pub fn parse(text: &str, file_label: &str) -> Result<Policy, String> {
        let doc = Doc {
            text,
            label: file_label,
        };
        let root = DeTable::parse(text).map_err(|e| doc.toml_error(&e))?;
        let mut agents = BTreeMap::new();
        let mut hashes = Vec::new();
        let mut admin = None;
        for (key, value) in in_file_order(root.get_ref()) {
            let word = key.get_ref().as_ref();
            if word == "admin" {
                admin = doc.admin(key, value)?;
                continue;
            }
            if word != "agents" {
                return Err(doc.at(
                    key.span(),
                    format!(
                        "unknown top-level key `{}`; the file holds only `[agents.NAME]` \
                         tables and an `[admin]` table{}",
                        shown(word),
                        suggest(word, TOP_KEYS),
                    ),
                ));
            }
            let DeValue::Table(table) = value.get_ref() else {
                return Err(doc.at(
                    key.span(),
                    "`agents` must be a table of agents; write `[agents.NAME]` tables",
                ));
            };
            for (name, value) in in_file_order(table) {
                let (agent, hash_span) = doc.agent(name, value)?;
                if let Some(span) = hash_span {
                    hashes.push((agent.name.clone(), span));
                }
                agents.insert(agent.name.clone(), agent);
            }
        }
        doc.check_distinct_keys(&agents, hashes)?;
        let admin_key_sha256 = match admin {
            Some((hash, span)) => {
                doc.check_admin_key(&agents, &hash, span)?;
                Some(hash)
            }
            None => None,
        };
        Ok(Policy {
            agents,
            admin_key_sha256,
        })
    }

    /// SHA-256 hex of the admin key, when the file has `[admin] key_sha256`.
    pub fn admin_key_sha256(&self) -> Option<&str> {
        self.admin_key_sha256.as_deref()
    }

    /// The agent called `name`.
    pub fn agent(&self, name: &str) -> Option<&AgentPolicy> {
        self.agents.get(name)
    }

    /// Every agent, sorted by name.
    pub fn agents(&self) -> impl Iterator<Item = &AgentPolicy> {
        self.agents.values()
    }

    /// The agent, when the policy has exactly one.
    pub fn only_agent(&self) -> Option<&AgentPolicy> {
        match self.agents.len() {
            1 => self.agents.values().next(),
            _ => None,
        }
    }

    /// The agent whose `key_sha256` is the SHA-256 of `key`. Every agent's hash is compared,
    /// in constant time and without stopping at a match, so timing tells nothing about which
    /// hash was close. An empty key matches nobody.
    pub fn agent_for_key(&self, key: &str) -> Option<&AgentPolicy> {
        if key.is_empty() {
            return None;
        }
        let digest = key_sha256(key);
        let mut found = None;
        for agent in self.agents.values() {
            let stored = agent.key_sha256.as_deref().unwrap_or_default();
            if crate::digest::constant_time_eq(digest.as_bytes(), stored.as_bytes())
                && found.is_none()
            {
                found = Some(agent);
            }
        }
        found
    }
}

/// SHA-256 hex (lowercase) of a key, for `key_sha256`.
pub fn key_sha256(key: &str) -> String {
    crate::digest::sha256_hex(key)
}

/// Whether `key` is the key whose SHA-256 hex is `hash` (lowercase, as [`check_key_hash`]
/// gives it), compared in constant time. An empty key matches nothing.
pub fn key_matches(key: &str, hash: &str) -> bool {
    !key.is_empty() && crate::digest::constant_time_eq(key_sha256(key).as_bytes(), hash.as_bytes())
}

/// What is wrong with a text given as a key's SHA-256 hex, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHashProblem {
    /// Not 64 hex digits; holds how many characters it has.
    NotHex(usize),
    /// The SHA-256 of an empty key: an unset variable, most likely.
    EmptyKey,
}

impl fmt::Display for KeyHashProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyHashProblem::NotHex(n) => write!(
                f,
                "is not a SHA-256 hex digest ({n} characters, want 64 hex digits)"
            ),
            KeyHashProblem::EmptyKey => {
                f.write_str("is the SHA-256 of an empty key (was the variable unset?)")
            }
        }
    }
}

/// A key's SHA-256 hex as the policy stores it (lowercase), or why `hash` is not one. The
/// text is never quoted back: a raw key pasted in place of its hash must not reach logs.
pub fn check_key_hash(hash: &str) -> Result<String, KeyHashProblem> {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyHashProblem::NotHex(hash.chars().count()));
    }
    let hash = hash.to_ascii_lowercase();
    if hash == key_sha256("") {
        return Err(KeyHashProblem::EmptyKey);
    }
    Ok(hash)
}

const TOP_KEYS: &[&str] = &["agents", "admin"];
const AGENT_KEYS: &[&str] = &[
    "access",
    "key_sha256",
    "livechat",
    "limits",
    "approve",
    "approvers",
    "draft",
];
const LIMITS_KEYS: &[&str] = &["calls_per_minute", "writes_per_minute"];
const ADMIN_KEYS: &[&str] = &["key_sha256"];
const LIVECHAT_KEYS: &[&str] = &[
    "token_env",
    "pat_env",
    "account_id_env",
    "identity",
    "groups",
];
/// The most groups a bot's provisioning names.
const MAX_BOT_GROUPS: usize = 100;
const MAX_AGENT_NAME: usize = 64;

type Entry<'t, 'i> = (&'t Spanned<DeString<'i>>, &'t Spanned<DeValue<'i>>);

/// A table's entries in the order they appear in the file, so the first error reported is the
/// first in the file whatever the map's own order.
fn in_file_order<'t, 'i>(table: &'t DeTable<'i>) -> Vec<Entry<'t, 'i>> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
}

/// The text being parsed and its name, for errors that point at a line.
struct Doc<'a> {
    text: &'a str,
    label: &'a str,
}

impl Doc<'_> {
    /// `label:LINE: message`, LINE 1-based, of the byte offset `span.start`.
    fn at(&self, span: Range<usize>, message: impl fmt::Display) -> String {
        format!("{}:{}: {message}", self.label, self.line(span.start))
    }

    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    /// The parser's message, with the word it stopped at when that is short: a long one may be
    /// a secret pasted unquoted, and errors end up in logs.
    fn toml_error(&self, error: &toml::de::Error) -> String {
        const MAX_QUOTED: usize = 32;
        let span = error.span().unwrap_or(0..0);
        let rest = self.text.get(span.start..).unwrap_or_default();
        let found = match self.text.get(span.clone()).map(str::trim) {
            Some(found) if !found.is_empty() => Some(found),
            _ => rest
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().next()),
        };
        let near = match found {
            Some(word) if word.chars().count() <= MAX_QUOTED && !word.contains('\n') => {
                format!(" at `{}`", shown(word))
            }
            Some(_) => String::new(),
            None if rest.is_empty() => " at the end of the file".to_string(),
            None => " at the end of the line".to_string(),
        };
        self.at(
            span,
            format!(
                "not valid TOML{near}: {}; fix the syntax (see https://toml.io)",
                error.message()
            ),
        )
    }

    fn agent(
        &self,
        name: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<(AgentPolicy, Option<Range<usize>>), String> {
        let agent = name.get_ref().as_ref();
        if let Err(why) = check_agent_name(agent) {
            return Err(self.at(name.span(), format!("agent name `{}` {why}", shown(agent))));
        }
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.at(
                name.span(),
                format!("agent `{agent}` must be a table; write it as `[agents.{agent}]`"),
            ));
        };
        let mut policy = AgentPolicy {
            name: agent.to_string(),
            grants: Grants::default(),
            key_sha256: None,
            livechat: None,
            limits: Limits::default(),
            approval: ApprovalRule::default(),
            draft: false,
        };
        let mut hash_span = None;
        for (key, value) in in_file_order(table) {
            match key.get_ref().as_ref() {
                "access" => policy.grants = self.access(agent, key, value)?,
                "key_sha256" => {
                    policy.key_sha256 = Some(self.key_hash(agent, key, value)?);
                    hash_span = Some(value.span());
                }
                "livechat" => policy.livechat = Some(self.livechat(agent, key, value)?),
                "limits" => policy.limits = self.limits(agent, key, value)?,
                "approve" => policy.approval.needs = self.approve(agent, key, value)?,
                "approvers" => policy.approval.approvers = self.approvers(agent, key, value)?,
                "draft" => policy.draft = self.draft(agent, key, value)?,
                other => {
                    return Err(self.at(
                        key.span(),
                        format!(
                            "unknown key `{}` for agent `{agent}` (keys: {}){}",
                            shown(other),
                            listed(AGENT_KEYS),
                            suggest(other, AGENT_KEYS),
                        ),
                    ));
                }
            }
        }
        Ok((policy, hash_span))
    }

    fn access(
        &self,
        agent: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Grants, String> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.at(
                key.span(),
                format!(
                    "`access` of agent `{agent}` must be a table of area = level, \
                     like `access = {{ chats = \"read\" }}`"
                ),
            ));
        };
        let mut grants = Grants::default();
        for (area_key, level_value) in in_file_order(table) {
            let word = area_key.get_ref().as_ref();
            let level = || self.level(agent, word, area_key, level_value);
            if word == "*" {
                grants.default = level()?;
            } else if let Some(area) = Area::parse(word) {
                grants.areas.insert(area, level()?);
            } else {
                let names: Vec<&str> = Area::ALL.iter().map(|a| a.as_str()).collect();
                return Err(self.at(
                    area_key.span(),
                    format!(
                        "unknown area `{}` for agent `{agent}` (areas: {}, or \"*\"){}",
                        shown(word),
                        names.join(", "),
                        suggest(word, &names),
                    ),
                ));
            }
        }
        Ok(grants)
    }

    fn level(
        &self,
        agent: &str,
        area: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Level, String> {
        let names: Vec<&str> = Level::ALL.iter().map(|l| l.as_str()).collect();
        let area = shown(area);
        let DeValue::String(word) = value.get_ref() else {
            return Err(self.at(
                key.span(),
                format!(
                    "the level of `{area}` for agent `{agent}` must be a string: \
                     \"off\", \"read\" or \"full\""
                ),
            ));
        };
        Level::parse(word).ok_or_else(|| {
            self.at(
                value.span(),
                format!(
                    "unknown level `{}` for area `{area}` of agent `{agent}` (levels: {}){}",
                    shown(word),
                    names.join(", "),
                    suggest(word, &names),
                ),
            )
        })
    }

    /// The value is not echoed in errors: a raw key pasted here by mistake must not reach logs.
    fn key_hash(
        &self,
        agent: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<String, String> {
        let fix = "put the SHA-256 of the key there, never the key itself: \
                   `printf %s \"$KEY\" | sha256sum`";
        let DeValue::String(hash) = value.get_ref() else {
            return Err(self.at(
                key.span(),
                format!("`key_sha256` of agent `{agent}` must be a string of 64 hex digits; {fix}"),
            ));
        };
        check_key_hash(hash).map_err(|problem| {
            self.at(
                value.span(),
                format!("`key_sha256` of agent `{agent}` {problem}; {fix}"),
            )
        })
    }

    /// The `[admin]` table: the admin key's hash and where it is, or `None` for an empty
    /// table. The value is not echoed in errors, as in [`Doc::key_hash`].
    fn admin(
        &self,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Option<(String, Range<usize>)>, String> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.at(
                key.span(),
                "`admin` must be a table; write it as `[admin]` with `key_sha256 = \"…\"`",
            ));
        };
        let mut found = None;
        for (name, value) in in_file_order(table) {
            let word = name.get_ref().as_ref();
            if word != "key_sha256" {
                return Err(self.at(
                    name.span(),
                    format!(
                        "unknown key `{}` in `[admin]` (keys: {}){}",
                        shown(word),
                        listed(ADMIN_KEYS),
                        suggest(word, ADMIN_KEYS),
                    ),
                ));
            }
            let fix = "put the SHA-256 of the admin key there, never the key itself: \
                       `printf %s \"$KEY\" | sha256sum`";
            let DeValue::String(hash) = value.get_ref() else {
                return Err(self.at(
                    name.span(),
                    format!("`key_sha256` in `[admin]` must be a string of 64 hex digits; {fix}"),
                ));
            };
            let hash = check_key_hash(hash).map_err(|problem| {
                self.at(
                    value.span(),
                    format!("`key_sha256` in `[admin]` {problem}; {fix}"),
                )
            })?;
            found = Some((hash, value.span()));
        }
        Ok(found)
    }

    /// The admin key opens what no agent may see, so it must not be any agent's key.
    fn check_admin_key(
        &self,
        agents: &BTreeMap<String, AgentPolicy>,
        hash: &str,
        span: Range<usize>,
    ) -> Result<(), String> {
        match agents
            .values()
            .find(|a| a.key_sha256.as_deref() == Some(hash))
        {
            Some(agent) => Err(self.at(
                span,
                format!(
                    "`key_sha256` in `[admin]` is the same as agent `{}`'s; the admin key \
                     must be a key of its own: make one with `livechat-mcp key new admin`",
                    agent.name
                ),
            )),
            None => Ok(()),
        }
    }

    fn livechat(
        &self,
        agent: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<LiveChatIdentity, String> {
        let want = "`token_env`, or `pat_env` and `account_id_env`, or `identity = \"bot\"`";
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.at(
                key.span(),
                format!(
                    "`livechat` of agent `{agent}` must be a table with {want}; \
                     write it as `[agents.{agent}.livechat]`"
                ),
            ));
        };
        let mut names: BTreeMap<&str, (String, Range<usize>)> = BTreeMap::new();
        let mut bot_keys = Vec::new();
        for (name_key, name_value) in in_file_order(table) {
            let field = name_key.get_ref().as_ref();
            let Some(&field) = LIVECHAT_KEYS.iter().find(|k| **k == field) else {
                return Err(self.at(
                    name_key.span(),
                    format!(
                        "unknown key `{}` in `livechat` of agent `{agent}` (keys: {want}){}",
                        shown(field),
                        suggest(field, LIVECHAT_KEYS),
                    ),
                ));
            };
            if field == "identity" || field == "groups" {
                bot_keys.push((field, name_key, name_value));
                continue;
            }
            let var = self.env_name(agent, field, name_key, name_value)?;
            names.insert(field, (var, name_key.span()));
        }
        if !bot_keys.is_empty() {
            return self.bot_identity(agent, &bot_keys, &names);
        }
        let mut take = |field: &str| names.remove(field);
        match (take("token_env"), take("pat_env"), take("account_id_env")) {
            (Some((token_env, _)), None, None) => Ok(LiveChatIdentity::Token { token_env }),
            (None, Some((pat_env, _)), Some((account_id_env, _))) => Ok(LiveChatIdentity::Pat {
                pat_env,
                account_id_env,
            }),
            (Some(_), pat, account) => {
                let span = pat.or(account).map(|(_, s)| s).unwrap_or(key.span());
                Err(self.at(
                    span,
                    format!(
                        "`livechat` of agent `{agent}` mixes `token_env` with `pat_env` or \
                         `account_id_env`; use {want}, not both"
                    ),
                ))
            }
            (None, Some((_, span)), None) => Err(self.at(
                span,
                format!(
                    "`livechat` of agent `{agent}` has `pat_env` but no `account_id_env`; \
                     add `account_id_env`, the variable holding the LiveChat account ID"
                ),
            )),
            (None, None, Some((_, span))) => Err(self.at(
                span,
                format!(
                    "`livechat` of agent `{agent}` has `account_id_env` but no `pat_env`; \
                     add `pat_env`, the variable holding the personal access token"
                ),
            )),
            (None, None, None) => Err(self.at(
                key.span(),
                format!("`livechat` of agent `{agent}` is empty; set {want}"),
            )),
        }
    }

    /// `identity = "bot"`, with `groups = [..]` optionally; nothing else in the table.
    fn bot_identity(
        &self,
        agent: &str,
        bot_keys: &[(&str, &Spanned<DeString<'_>>, &Spanned<DeValue<'_>>)],
        others: &BTreeMap<&str, (String, Range<usize>)>,
    ) -> Result<LiveChatIdentity, String> {
        let identity = bot_keys.iter().find(|(field, _, _)| *field == "identity");
        let Some((_, identity_key, identity_value)) = identity else {
            let (_, groups_key, _) = bot_keys[0];
            return Err(self.at(
                groups_key.span(),
                format!(
                    "`groups` in `livechat` of agent `{agent}` is for a bot identity; add \
                     `identity = \"bot\"`, or remove `groups`"
                ),
            ));
        };
        if !matches!(identity_value.get_ref(), DeValue::String(v) if v.as_ref() == "bot") {
            return Err(self.at(
                identity_key.span(),
                format!(
                    "`identity` of agent `{agent}` can only be \"bot\" (the agent acts as a \
                     LiveChat bot of its own); for a token or a PAT of its own write \
                     `token_env`, or `pat_env` and `account_id_env`, instead"
                ),
            ));
        }
        if let Some((field, (_, span))) = others.iter().next() {
            return Err(self.at(
                span.clone(),
                format!(
                    "`livechat` of agent `{agent}` mixes `identity = \"bot\"` with `{field}`; \
                     a bot's tokens are issued by the server, so use one or the other"
                ),
            ));
        }
        let mut groups = Vec::new();
        if let Some((_, groups_key, groups_value)) =
            bot_keys.iter().find(|(field, _, _)| *field == "groups")
        {
            let bad = || {
                self.at(
                    groups_key.span(),
                    format!(
                        "`groups` of agent `{agent}` must be a list of 1 to {MAX_BOT_GROUPS} \
                         distinct LiveChat group IDs (whole numbers from 0), like \
                         `groups = [0, 2]`"
                    ),
                )
            };
            let DeValue::Array(items) = groups_value.get_ref() else {
                return Err(bad());
            };
            for item in items.iter() {
                let id = match item.get_ref() {
                    DeValue::Integer(n) => i64::from_str_radix(n.as_str(), n.radix())
                        .ok()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(bad)?,
                    _ => return Err(bad()),
                };
                if groups.contains(&id) {
                    return Err(bad());
                }
                groups.push(id);
            }
            if groups.is_empty() || groups.len() > MAX_BOT_GROUPS {
                return Err(bad());
            }
        }
        if groups.is_empty() {
            groups.push(0);
        }
        Ok(LiveChatIdentity::Bot { groups })
    }

    /// `limits = { calls_per_minute = N, writes_per_minute = M }`, either key optional.
    fn limits(
        &self,
        agent: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Limits, String> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.at(
                key.span(),
                format!(
                    "`limits` of agent `{agent}` must be a table, like \
                     `limits = {{ calls_per_minute = 60, writes_per_minute = 10 }}` \
                     (either key may be left out)"
                ),
            ));
        };
        let mut limits = Limits::default();
        let mut writes_at = None;
        for (name, value) in in_file_order(table) {
            match name.get_ref().as_ref() {
                "calls_per_minute" => {
                    limits.calls_per_minute = Some(self.per_minute(agent, name, value)?);
                }
                "writes_per_minute" => {
                    limits.writes_per_minute = Some(self.per_minute(agent, name, value)?);
                    writes_at = Some(value.span());
                }
                other => {
                    return Err(self.at(
                        name.span(),
                        format!(
                            "unknown key `{}` in `limits` of agent `{agent}` (keys: {}){}",
                            shown(other),
                            listed(LIMITS_KEYS),
                            suggest(other, LIMITS_KEYS),
                        ),
                    ));
                }
            }
        }
        if let (Some(calls), Some(writes), Some(span)) =
            (limits.calls_per_minute, limits.writes_per_minute, writes_at)
            && writes > calls
        {
            return Err(self.at(
                span,
                format!(
                    "`writes_per_minute` of agent `{agent}` is {writes}, which can never be \
                     reached, since `calls_per_minute` is {calls} and every write is also a \
                     call; set it to at most {calls}, or leave it out"
                ),
            ));
        }
        Ok(limits)
    }

    /// One limit of `limits`: a whole number from 1 to [`MAX_PER_MINUTE`].
    fn per_minute(
        &self,
        agent: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<u32, String> {
        let field = key.get_ref().as_ref();
        let counted = if field == "writes_per_minute" {
            "writes"
        } else {
            "calls"
        };
        let (found, hint) = match value.get_ref() {
            DeValue::Integer(int) => {
                // Out of `i64`'s range is far out of the allowed range too.
                let n = i64::from_str_radix(int.as_str(), int.radix()).unwrap_or(
                    if int.as_str().starts_with('-') {
                        i64::MIN
                    } else {
                        i64::MAX
                    },
                );
                if let Ok(n) = u32::try_from(n)
                    && (1..=MAX_PER_MINUTE).contains(&n)
                {
                    return Ok(n);
                }
                let hint = match n {
                    0 if counted == "calls" => {
                        "; to let the agent call nothing, set its areas to \"off\" in `access`"
                    }
                    0 => "; to let the agent write nothing, grant at most \"read\" in `access`",
                    n if n > 0 => "; for no limit, leave the key out",
                    _ => "",
                };
                (format!("`{}`", shown(&int.to_string())), hint)
            }
            DeValue::String(s) => (
                format!("the string `\"{}\"`", shown(s)),
                "; write the number without quotes",
            ),
            DeValue::Float(f) => (format!("`{}`", shown(f.as_str())), ""),
            DeValue::Boolean(b) => (format!("`{b}`"), ""),
            DeValue::Datetime(d) => (format!("`{}`", shown(&d.to_string())), ""),
            DeValue::Array(_) => ("an array".to_string(), ""),
            DeValue::Table(_) => ("a table".to_string(), ""),
        };
        Err(self.at(
            value.span(),
            format!(
                "`{field}` of agent `{agent}` must be a whole number from 1 to {MAX_PER_MINUTE} \
                 ({counted} in any rolling minute), not {found}{hint}"
            ),
        ))
    }

    /// The value is not echoed in errors: it may be a secret pasted in place of a name.
    fn env_name(
        &self,
        agent: &str,
        field: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<String, String> {
        let name = match value.get_ref() {
            DeValue::String(name) if is_env_name(name) => name,
            _ => {
                return Err(self.at(
                    key.span(),
                    format!(
                        "`{field}` of agent `{agent}` must be the name of an environment \
                         variable (at most 128 letters, digits and `_`, not starting with a \
                         digit), like \"SUPPORT_LIVECHAT_TOKEN\"; the secret itself goes in \
                         that variable, never in this file"
                    ),
                ));
            }
        };
        Ok(name.to_string())
    }

    /// Two agents with one key would make the key's owner ambiguous. `hashes` holds, for each
    /// agent with a `key_sha256`, its name and where the hash is.
    fn check_distinct_keys(
        &self,
        agents: &BTreeMap<String, AgentPolicy>,
        mut hashes: Vec<(String, Range<usize>)>,
    ) -> Result<(), String> {
        hashes.sort_by_key(|(_, span)| span.start);
        let hash_of = |name: &str| agents.get(name).and_then(|a| a.key_sha256.as_deref());
        for (i, (name, span)) in hashes.iter().enumerate() {
            let first = hashes[..i]
                .iter()
                .find(|(other, _)| hash_of(other) == hash_of(name));
            if let Some((first, _)) = first {
                return Err(self.at(
                    span.clone(),
                    format!(
                        "agent `{name}` has the same `key_sha256` as agent `{first}`; \
                         give each agent its own key"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `name` may name an agent; the error says what is wrong with it.
pub fn check_agent_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty; name the agent with letters, digits, `.`, `_` or `-`");
    }
    if name.chars().count() > MAX_AGENT_NAME {
        return Err("is longer than 64 characters; shorten it");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("may only hold letters, digits, `.`, `_` and `-`; rename it");
    }
    Ok(())
}

/// The longest environment variable name a policy may give: real names are far shorter, and
/// anything longer is more likely a pasted secret than a name.
const MAX_ENV_NAME: usize = 128;

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_ENV_NAME
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A word from the file, safe to quote in one line of an error: control characters escaped,
/// at most 40 characters.
fn shown(word: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = word
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if word.chars().count() > MAX {
        out.push('…');
    }
    out
}

fn listed(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    quoted.join(", ")
}

/// `; did you mean `x`?` for the closest candidate within two edits, or one that begins with
/// the word (`token` → `token_env`), or nothing.
fn suggest(word: &str, candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| {
            let prefix = word.len() >= 3 && c.starts_with(word);
            (if prefix { 1 } else { edit_distance(word, c) }, *c)
        })
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools;

    const EXAMPLE: &str = r#"# Anything not granted here is denied.
[agents.support-bot]
access = { chats = "read", events = "full", chat_properties = "full" }

[agents.auditor]
access = { "*" = "read", customers = "off" }
key_sha256 = "2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE"
[agents.auditor.livechat]
pat_env = "AUDITOR_LIVECHAT_PAT"
account_id_env = "AUDITOR_LIVECHAT_ACCOUNT_ID"
"#;

    fn parse(text: &str) -> Policy {
        match Policy::parse(text, "policy.toml") {
            Ok(policy) => policy,
            Err(e) => panic!("expected a valid policy, got: {e}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match Policy::parse(text, "policy.toml") {
            Ok(policy) => panic!("expected an error, got {policy:?}"),
            Err(e) => e,
        }
    }

    /// Every tool is allowed exactly when `expected(area)` grants its access.
    fn assert_allows_exactly(grants: &Grants, expected: impl Fn(Area) -> Level) {
        let mut seen = 0;
        for spec in tools::all() {
            let want = match expected(spec.area) {
                Level::Off => false,
                Level::Read => spec.access == Access::Read,
                Level::Full => true,
            };
            assert_eq!(
                grants.allows(spec),
                want,
                "{} ({:?})",
                spec.name,
                spec.access
            );
            seen += 1;
        }
        assert!(seen > 0, "the registry has tools");
        let described: Vec<_> = Area::ALL.into_iter().map(|a| (a, expected(a))).collect();
        assert_eq!(grants.describe(), described);
    }

    #[test]
    fn the_registry_has_read_and_write_tools_in_the_areas_the_tests_rely_on() {
        for area in [Area::Chats, Area::Customers, Area::Routing] {
            for access in [Access::Read, Access::Write] {
                assert!(
                    area.tools().iter().any(|s| s.access == access),
                    "{area:?} has a {access:?} tool"
                );
            }
        }
    }

    #[test]
    fn support_bot_gets_exactly_its_areas() {
        let policy = parse(EXAMPLE);
        let bot = policy.agent("support-bot").expect("support-bot");
        assert_eq!(bot.name, "support-bot");
        assert_eq!(bot.key_sha256, None);
        assert_eq!(bot.livechat, None);
        assert_eq!(bot.limits, Limits::default());
        assert_allows_exactly(&bot.grants, |area| match area {
            Area::Chats => Level::Read,
            Area::Events | Area::ChatProperties => Level::Full,
            _ => Level::Off,
        });
    }

    #[test]
    fn auditor_reads_everything_but_customers() {
        let policy = parse(EXAMPLE);
        let auditor = policy.agent("auditor").expect("auditor");
        assert_allows_exactly(&auditor.grants, |area| match area {
            Area::Customers => Level::Off,
            _ => Level::Read,
        });
        assert_eq!(
            auditor.key_sha256.as_deref(),
            Some("2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"),
            "normalised to lowercase"
        );
        assert_eq!(
            auditor.livechat,
            Some(LiveChatIdentity::Pat {
                pat_env: "AUDITOR_LIVECHAT_PAT".into(),
                account_id_env: "AUDITOR_LIVECHAT_ACCOUNT_ID".into(),
            })
        );
    }

    #[test]
    fn every_area_at_every_level_allows_the_right_tools() {
        for area in Area::ALL {
            for level in Level::ALL {
                let text = format!(
                    "[agents.a]\naccess = {{ {} = \"{level}\" }}\n",
                    area.as_str()
                );
                let policy = parse(&text);
                let grants = &policy.agent("a").expect("a").grants;
                assert_allows_exactly(grants, |a| if a == area { level } else { Level::Off });
            }
        }
    }

    #[test]
    fn star_sets_the_default_and_areas_override_it_both_ways() {
        let policy = parse(
            r#"
[agents.a]
access = { "*" = "full", webhooks = "read", agents = "off" }
[agents.b]
access = { chats = "full", "*" = "read" }
"#,
        );
        assert_allows_exactly(&policy.agent("a").expect("a").grants, |area| match area {
            Area::Webhooks => Level::Read,
            Area::Agents => Level::Off,
            _ => Level::Full,
        });
        assert_allows_exactly(&policy.agent("b").expect("b").grants, |area| match area {
            Area::Chats => Level::Full,
            _ => Level::Read,
        });
    }

    #[test]
    fn no_star_and_no_access_deny() {
        let policy = parse("[agents.a]\naccess = {}\n[agents.b]\n");
        for name in ["a", "b"] {
            let grants = &policy.agent(name).expect(name).grants;
            assert_eq!(grants, &Grants::default());
            assert_allows_exactly(grants, |_| Level::Off);
        }
    }

    #[test]
    fn uniform_grants_every_area_the_same() {
        for level in Level::ALL {
            assert_allows_exactly(&Grants::uniform(level), |_| level);
        }
    }

    #[test]
    fn levels_round_trip_and_order() {
        for level in Level::ALL {
            assert_eq!(Level::parse(level.as_str()), Some(level));
        }
        assert_eq!(Level::parse("Read"), None);
        assert!(Level::Off < Level::Read && Level::Read < Level::Full);
    }

    #[test]
    fn empty_policy_is_valid_and_denies_everything() {
        for text in ["", "# nothing yet\n", "[agents]\n"] {
            let policy = parse(text);
            assert_eq!(policy.agents().count(), 0);
            assert!(policy.only_agent().is_none());
            assert!(policy.agent("support-bot").is_none());
            assert!(policy.agent_for_key("anything").is_none());
        }
    }

    #[test]
    fn only_agent_needs_exactly_one() {
        assert!(parse(EXAMPLE).only_agent().is_none());
        let one = parse("[agents.solo]\naccess = { chats = \"read\" }\n");
        assert_eq!(one.only_agent().map(|a| a.name.as_str()), Some("solo"));
    }

    #[test]
    fn key_sha256_is_lowercase_hex_sha256() {
        assert_eq!(
            key_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn agent_for_key_finds_the_owner_and_rejects_others() {
        let text = format!(
            "[agents.one]\nkey_sha256 = \"{}\"\n[agents.two]\nkey_sha256 = \"{}\"\n[agents.none]\n",
            key_sha256("key-one"),
            key_sha256("key-two").to_uppercase(),
        );
        let policy = parse(&text);
        let owner = |key: &str| policy.agent_for_key(key).map(|a| a.name.as_str());
        assert_eq!(owner("key-one"), Some("one"));
        assert_eq!(owner("key-two"), Some("two"));
        assert_eq!(owner("key-three"), None);
        assert_eq!(owner("key-one "), None);
        assert_eq!(owner(""), None);
        // The hash itself is not the key.
        assert_eq!(owner(&key_sha256("key-one")), None);
        // The example's key hash is sha256("foo").
        assert_eq!(
            parse(EXAMPLE).agent_for_key("foo").map(|a| a.name.as_str()),
            Some("auditor")
        );
    }

    #[test]
    fn the_admin_key_hash_is_read_and_matched_in_constant_time() {
        let hash = key_sha256("admin-key").to_uppercase();
        let policy = parse(&format!(
            "[agents.a]\nkey_sha256 = \"{}\"\n[admin]\nkey_sha256 = \"{hash}\"\n",
            key_sha256("agent-key")
        ));
        let stored = policy.admin_key_sha256().expect("admin hash");
        assert_eq!(stored, key_sha256("admin-key"));
        assert!(key_matches("admin-key", stored));
        assert!(!key_matches("agent-key", stored));
        assert!(!key_matches("", &key_sha256("")));
        assert_eq!(parse("[agents.a]\n").admin_key_sha256(), None);
        assert_eq!(check_key_hash("abc"), Err(KeyHashProblem::NotHex(3)));
        assert_eq!(
            check_key_hash(&key_sha256("")),
            Err(KeyHashProblem::EmptyKey)
        );
    }

    #[test]
    fn a_bot_identity_with_or_without_groups() {
        let policy = parse(
            "[agents.a.livechat]\nidentity = \"bot\"\n\
             [agents.b]\nlivechat = { identity = \"bot\", groups = [0, 2] }\n",
        );
        assert_eq!(
            policy.agent("a").expect("a").livechat,
            Some(LiveChatIdentity::Bot { groups: vec![0] })
        );
        assert_eq!(
            policy.agent("b").expect("b").livechat,
            Some(LiveChatIdentity::Bot { groups: vec![0, 2] })
        );
    }

    #[test]
    fn a_bad_bot_identity_names_the_line_and_what_to_write() {
        let cases = [
            (
                "identity = \"robot\"",
                "policy.toml:2: `identity` of agent `a` can only be \"bot\"",
            ),
            (
                "identity = \"bot\"\ntoken_env = \"A_TOKEN\"",
                "policy.toml:3: `livechat` of agent `a` mixes `identity = \"bot\"` with `token_env`",
            ),
            (
                "groups = [1]",
                "policy.toml:2: `groups` in `livechat` of agent `a` is for a bot identity",
            ),
            (
                "identity = \"bot\"\ngroups = []",
                "policy.toml:3: `groups` of agent `a` must be a list",
            ),
            (
                "identity = \"bot\"\ngroups = [1, 1]",
                "policy.toml:3: `groups` of agent `a` must be a list",
            ),
            (
                "identity = \"bot\"\ngroups = [-1]",
                "policy.toml:3: `groups` of agent `a` must be a list",
            ),
            (
                "identity = \"bot\"\ngroups = \"0\"",
                "policy.toml:3: `groups` of agent `a` must be a list",
            ),
        ];
        for (body, expected) in cases {
            let err = parse_err(&format!("[agents.a.livechat]\n{body}\n"));
            assert!(err.starts_with(expected), "{body}: {err}");
        }
    }

    #[test]
    fn livechat_token_identity() {
        let policy = parse("[agents.a.livechat]\ntoken_env = \"A_TOKEN\"\n");
        assert_eq!(
            policy.agent("a").expect("a").livechat,
            Some(LiveChatIdentity::Token {
                token_env: "A_TOKEN".into()
            })
        );
    }

    #[test]
    fn limits_are_read_inline_or_as_a_sub_table_either_key_optional() {
        let policy = parse(
            r#"
[agents.a]
access = { "*" = "read" }
limits = { calls_per_minute = 60, writes_per_minute = 10 }
[agents.b.limits]
writes_per_minute = 100_000
[agents.c]
limits = { calls_per_minute = 0x10 }
[agents.d]
limits = {}
[agents.e]
limits = { calls_per_minute = +1, writes_per_minute = 1 }
[agents.f]
"#,
        );
        let limits = |name: &str| policy.agent(name).expect(name).limits;
        let both = |calls, writes| Limits {
            calls_per_minute: calls,
            writes_per_minute: writes,
        };
        assert_eq!(limits("a"), both(Some(60), Some(10)));
        assert_eq!(limits("b"), both(None, Some(100_000)));
        assert_eq!(limits("c"), both(Some(16), None));
        assert_eq!(limits("d"), Limits::default());
        assert_eq!(limits("e"), both(Some(1), Some(1)));
        assert_eq!(limits("f"), Limits::default());
        assert_allows_exactly(&policy.agent("a").expect("a").grants, |_| Level::Read);
    }

    #[test]
    fn agent_names_may_use_letters_digits_dot_underscore_dash() {
        let long = "a".repeat(64);
        let text = format!("[agents.\"x.Y_z-9\"]\n[agents.{long}]\n");
        let policy = parse(&text);
        assert!(policy.agent("x.Y_z-9").is_some());
        assert!(policy.agent(&long).is_some());
    }

    /// Each case: the text, the line the error must name, the words it must contain.
    #[test]
    fn errors_name_the_file_the_line_and_the_bad_word() {
        let long = "a".repeat(65);
        let long_agent = format!("\n[agents.{long}]\n");
        let bad_hash_uppercase_g = format!("[agents.a]\n\nkey_sha256 = \"{}\"\n", "G".repeat(64));
        let dup_hash = format!(
            "[agents.b]\nkey_sha256 = \"{h}\"\n[agents.a]\nkey_sha256 = \"{h}\"\n",
            h = key_sha256("k")
        );
        let empty_hash = format!("[agents.a]\nkey_sha256 = \"{}\"\n", key_sha256(""));
        let admin_is_agent = format!(
            "[agents.a]\nkey_sha256 = \"{h}\"\n\n[admin]\nkey_sha256 = \"{h}\"\n",
            h = key_sha256("k")
        );
        let cases: &[(&str, &str, usize, &[&str])] = &[
            (
                "unknown area",
                "[agents.support-bot]\n\naccess = { chatz = \"read\" }\n",
                3,
                &[
                    "unknown area `chatz`",
                    "`support-bot`",
                    "did you mean `chats`?",
                    "\"*\"",
                ],
            ),
            (
                "unknown area on a later line of a multi-line table",
                "[agents.a.access]\nchats = \"read\"\nroutng = \"full\"\n",
                3,
                &["unknown area `routng`", "did you mean `routing`?"],
            ),
            (
                "unknown level",
                "[agents.a]\naccess = { \"*\" = \"read\",\n  chats = \"ful\" }\n",
                3,
                &[
                    "unknown level `ful`",
                    "area `chats`",
                    "(levels: off, read, full)",
                    "`full`?",
                ],
            ),
            (
                "level not a string",
                "[agents.a]\naccess = { chats = true }\n",
                2,
                &["`chats`", "must be a string"],
            ),
            (
                "unknown agent key",
                "[agents.auditor]\nacess = { \"*\" = \"read\" }\n",
                2,
                &[
                    "unknown key `acess`",
                    "agent `auditor`",
                    "did you mean `access`?",
                ],
            ),
            (
                "unknown top-level key",
                "\n\n[agent.auditor]\n",
                3,
                &["unknown top-level key `agent`", "did you mean `agents`?"],
            ),
            (
                "access not a table",
                "[agents.a]\naccess = \"read\"\n",
                2,
                &["`access` of agent `a` must be a table"],
            ),
            (
                "agent not a table",
                "[agents]\nbot = \"read\"\n",
                2,
                &["agent `bot` must be a table"],
            ),
            (
                "agents not a table",
                "agents = 1\n",
                1,
                &["`agents` must be a table"],
            ),
            (
                "unclosed inline table",
                "[agents.a]\naccess = { chats = \"read\" \n",
                2,
                &[
                    "not valid TOML at the end of the line",
                    "unclosed inline table",
                ],
            ),
            (
                "unclosed inline table at the end of the file",
                "[agents.a]\naccess = { chats = \"read\"",
                2,
                &["not valid TOML at the end of the file", "`}`"],
            ),
            (
                "unclosed header",
                "[agents.a]\n[agents.b\n",
                2,
                &["not valid TOML", "unclosed table"],
            ),
            (
                "unquoted level",
                "[agents.a]\n\naccess = { chats = read }\n",
                3,
                &["not valid TOML at `read`", "quoted"],
            ),
            (
                "two keys on one line",
                "[agents.a.livechat]\npat_env = \"P\"; account_id_env = \"A\"\n",
                2,
                &["not valid TOML at `;`"],
            ),
            (
                "text after a header",
                "[agents.a] x\n",
                1,
                &["not valid TOML at `x`"],
            ),
            (
                "duplicate key",
                "[agents.a]\naccess = {}\naccess = {}\n",
                3,
                &["not valid TOML at `access`", "duplicate key"],
            ),
            (
                "duplicate agent",
                "[agents.a]\n\n[agents.a]\n",
                3,
                &["not valid TOML at `a`", "duplicate key"],
            ),
            (
                "agent as an array of tables",
                "[[agents.a]]\n",
                1,
                &["agent `a` must be a table"],
            ),
            (
                "short hash",
                "[agents.a]\nkey_sha256 = \"abc123\"\n",
                2,
                &["`key_sha256`", "agent `a`", "6 characters", "64 hex digits"],
            ),
            (
                "non-hex hash",
                &bad_hash_uppercase_g,
                3,
                &["`key_sha256`", "not a SHA-256 hex digest"],
            ),
            (
                "hash not a string",
                "[agents.a]\nkey_sha256 = 12\n",
                2,
                &["`key_sha256`", "must be a string"],
            ),
            (
                "hash of the empty key",
                &empty_hash,
                2,
                &["`key_sha256`", "empty key"],
            ),
            (
                "unknown admin key",
                "[admin]\nkey = \"x\"\n",
                2,
                &[
                    "unknown key `key` in `[admin]`",
                    "did you mean `key_sha256`?",
                ],
            ),
            (
                "short admin hash",
                "[admin]\nkey_sha256 = \"lcmcp_abc\"\n",
                2,
                &["`key_sha256` in `[admin]`", "9 characters", "64 hex digits"],
            ),
            (
                "admin not a table",
                "\nadmin = 1\n",
                2,
                &["`admin` must be a table"],
            ),
            (
                "admin key is an agent's key",
                &admin_is_agent,
                5,
                &["`[admin]` is the same as agent `a`'s", "key new admin"],
            ),
            (
                "same hash twice",
                &dup_hash,
                4,
                &["agent `a` has the same `key_sha256` as agent `b`"],
            ),
            (
                "unknown livechat key",
                "[agents.a.livechat]\ntoken_env = \"T\"\ntoken = \"T\"\n",
                3,
                &[
                    "unknown key `token`",
                    "`livechat` of agent `a`",
                    "did you mean `token_env`?",
                ],
            ),
            (
                "token and pat",
                "[agents.a.livechat]\ntoken_env = \"T\"\npat_env = \"P\"\n",
                3,
                &[
                    "`livechat` of agent `a`",
                    "`token_env`",
                    "`pat_env`",
                    "not both",
                ],
            ),
            (
                "pat without account",
                "[agents.a]\n[agents.a.livechat]\npat_env = \"P\"\n",
                3,
                &["`pat_env` but no `account_id_env`"],
            ),
            (
                "account without pat",
                "[agents.a.livechat]\naccount_id_env = \"A\"\n",
                2,
                &["`account_id_env` but no `pat_env`"],
            ),
            (
                "empty livechat",
                "[agents.a]\n[agents.a.livechat]\n",
                2,
                &["`livechat` of agent `a` is empty"],
            ),
            (
                "livechat not a table",
                "[agents.a]\nlivechat = \"T\"\n",
                2,
                &["`livechat` of agent `a` must be a table"],
            ),
            (
                "env name empty",
                "[agents.a.livechat]\ntoken_env = \"\"\n",
                2,
                &[
                    "`token_env` of agent `a`",
                    "name of an environment variable",
                ],
            ),
            (
                "env name starting with a digit",
                "[agents.a.livechat]\npat_env = \"P\"\naccount_id_env = \"1ACCOUNT\"\n",
                3,
                &[
                    "`account_id_env` of agent `a`",
                    "name of an environment variable",
                ],
            ),
            (
                "agent name with a space",
                "\n[agents.\"bad name\"]\n",
                2,
                &["agent name `bad name`", "letters, digits"],
            ),
            (
                "empty agent name",
                "[agents.\"\"]\n",
                1,
                &["agent name ``", "is empty"],
            ),
            ("agent name too long", &long_agent, 2, &["longer than 64"]),
            (
                "limits not a table",
                "[agents.bot]\nlimits = 60\n",
                2,
                &[
                    "`limits` of agent `bot` must be a table",
                    "`limits = { calls_per_minute = 60, writes_per_minute = 10 }`",
                ],
            ),
            (
                "limits misspelled",
                "[agents.bot]\nlimit = { calls_per_minute = 60 }\n",
                2,
                &["unknown key `limit`", "did you mean `limits`?"],
            ),
            (
                "unknown limit",
                "[agents.bot]\nlimits = { call_per_minute = 5 }\n",
                2,
                &[
                    "unknown key `call_per_minute` in `limits` of agent `bot`",
                    "(keys: `calls_per_minute`, `writes_per_minute`)",
                    "did you mean `calls_per_minute`?",
                ],
            ),
            (
                "unknown limit on a later line of a sub-table",
                "[agents.bot.limits]\ncalls_per_minute = 5\nwrites = 1\n",
                3,
                &["unknown key `writes`", "did you mean `writes_per_minute`?"],
            ),
            (
                "limit as a string",
                "[agents.bot]\nlimits = { calls_per_minute = \"60\" }\n",
                2,
                &[
                    "`calls_per_minute` of agent `bot` must be a whole number from 1 to \
                     100000 (calls in any rolling minute), not the string `\"60\"`",
                    "write the number without quotes",
                ],
            ),
            (
                "limit as a float on a later line",
                "[agents.bot]\nlimits = { calls_per_minute = 10,\n  writes_per_minute = 2.5 }\n",
                3,
                &[
                    "`writes_per_minute` of agent `bot` must be a whole number",
                    "(writes in any rolling minute), not `2.5`",
                ],
            ),
            (
                "limit as a bool",
                "[agents.bot.limits]\nwrites_per_minute = true\n",
                2,
                &["`writes_per_minute` of agent `bot`", "not `true`"],
            ),
            (
                "limit as an array",
                "[agents.bot.limits]\ncalls_per_minute = [60]\n",
                2,
                &["`calls_per_minute` of agent `bot`", "not an array"],
            ),
            (
                "no writes as a limit of 0",
                "[agents.bot]\nlimits = { writes_per_minute = 0 }\n",
                2,
                &[
                    "`writes_per_minute` of agent `bot` must be a whole number from 1 to \
                     100000 (writes in any rolling minute), not `0`",
                    "grant at most \"read\" in `access`",
                ],
            ),
            (
                "no calls as a limit of 0",
                "[agents.bot.limits]\n\ncalls_per_minute = 0\n",
                3,
                &["not `0`", "set its areas to \"off\" in `access`"],
            ),
            (
                "negative limit",
                "[agents.bot.limits]\ncalls_per_minute = -5\n",
                2,
                &[
                    "`calls_per_minute` of agent `bot`",
                    "from 1 to 100000",
                    "not `-5`",
                ],
            ),
            (
                "limit too large",
                "[agents.bot.limits]\ncalls_per_minute = 100_001\n",
                2,
                &["from 1 to 100000", "not `100001`", "leave the key out"],
            ),
            (
                "limit beyond 64 bits",
                "[agents.bot.limits]\ncalls_per_minute = 99999999999999999999\n",
                2,
                &["from 1 to 100000", "not `99999999999999999999`"],
            ),
            (
                "more writes than calls",
                "[agents.bot.limits]\ncalls_per_minute = 10\nwrites_per_minute = 11\n",
                3,
                &[
                    "`writes_per_minute` of agent `bot` is 11, which can never be reached, \
                     since `calls_per_minute` is 10",
                    "at most 10",
                ],
            ),
            (
                "more writes than calls, writes first",
                "[agents.bot]\nlimits = { writes_per_minute = 20,\n  calls_per_minute = 5 }\n",
                2,
                &[
                    "`writes_per_minute` of agent `bot` is 20",
                    "`calls_per_minute` is 5",
                ],
            ),
        ];
        for (what, text, line, words) in cases {
            let error = parse_err(text);
            let prefix = format!("policy.toml:{line}: ");
            assert!(
                error.starts_with(&prefix),
                "{what}: want {prefix:?}, got {error:?}"
            );
            for word in *words {
                assert!(error.contains(word), "{what}: want {word:?} in {error:?}");
            }
        }
    }

    #[test]
    fn secrets_pasted_in_place_of_names_are_not_echoed() {
        let secret = "dal:AbCdEfSecretToken-123";
        let error = parse_err(&format!("[agents.a.livechat]\ntoken_env = \"{secret}\"\n"));
        assert!(error.starts_with("policy.toml:2: "), "{error}");
        assert!(!error.contains("AbCdEf"), "{error}");
        let error = parse_err(&format!("[agents.a]\nkey_sha256 = \"{secret}\"\n"));
        assert!(error.starts_with("policy.toml:2: "), "{error}");
        assert!(!error.contains("AbCdEf"), "{error}");
        let long_name = format!("AbCdEf{}", "X".repeat(MAX_ENV_NAME - 5));
        let error = parse_err(&format!(
            "[agents.a.livechat]\ntoken_env = \"{long_name}\"\n"
        ));
        assert!(error.starts_with("policy.toml:2: "), "{error}");
        assert!(error.contains("at most 128"), "{error}");
        assert!(!error.contains("AbCdEf"), "{error}");
        let longest = "X".repeat(MAX_ENV_NAME);
        parse(&format!("[agents.a.livechat]\ntoken_env = \"{longest}\"\n"));
        let long = "us-south1:AbCdEfSecretTokenSecretTokenSecretToken";
        let error = parse_err(&format!("[agents.a.livechat]\ntoken_env = {long}\n"));
        assert!(
            error.starts_with("policy.toml:2: not valid TOML"),
            "{error}"
        );
        assert!(!error.contains("AbCdEf"), "{error}");
    }

    #[test]
    fn load_reads_the_file_and_names_it_in_errors() {
        let dir = std::env::temp_dir().join(format!("livechat-mcp-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let good = dir.join("good.toml");
        let bad = dir.join("bad.toml");
        std::fs::write(&good, EXAMPLE).expect("write");
        std::fs::write(&bad, "[agents.a]\naccess = { chats = \"write\" }\n").expect("write");

        let policy = Policy::load(&good).expect("loads");
        assert_eq!(policy, parse(EXAMPLE));
        let error = Policy::load(&bad).expect_err("rejects");
        assert!(
            error.starts_with(&format!("{}:2: ", bad.display())),
            "{error}"
        );
        assert!(error.contains("unknown level `write`"), "{error}");
        let missing = dir.join("missing.toml");
        let error = Policy::load(&missing).expect_err("missing");
        assert!(
            error.starts_with(&format!("{}: ", missing.display())),
            "{error}"
        );

        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
