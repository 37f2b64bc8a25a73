//! The calling agent: its name, its grants, the LiveChat identity it calls with, and the
//! scopes that identity's token carries. Policy decisions are made here, in one place.

use std::sync::Arc;

use crate::{
    client::ApiClient,
    config::{Credentials, Settings},
    error::StartError,
    policy::{AgentPolicy, Grants, Level, LiveChatIdentity, Policy},
    quota::{Limits, Quota},
    scopes::{self, Granted},
    tools::{Access, Area, ToolSpec},
};

/// The agent name used when there is no policy file.
pub const LOCAL_AGENT: &str = "local";

/// An agent as the server serves it.
#[derive(Clone, Debug)]
pub struct Agent {
    pub name: String,
    pub grants: Grants,
    /// The scopes of the agent's LiveChat token, when they could be read; `None` means
    /// unknown, and then no tool is hidden for lack of scopes.
    pub token_scopes: Option<Granted>,
    /// Calls LiveChat with this agent's credentials only.
    pub client: ApiClient,
    /// The agent's own call quotas (`limits` in the policy), shared by all its sessions.
    pub quota: Arc<Quota>,
    /// Who its calls are in LiveChat's eyes.
    pub identity: Identity,
    /// Its results keep customers' hidden characters (`--raw-customer-text`).
    pub raw_customer_text: bool,
    /// Which of its calls wait for a person, and who may approve them (`approve`,
    /// `approvers` in the policy).
    pub approval: crate::policy::ApprovalRule,
    /// Its customer-visible messages go out as internal notes (`draft = true`).
    pub draft: bool,
    /// The areas the server exposes at all (`--toolsets`); `None` is every area. Narrows the
    /// grants, never widens them.
    pub toolsets: Option<Toolsets>,
}

/// The areas a server exposes (`--toolsets chats,events`): tools of any other area are
/// hidden and refused, whatever the policy grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toolsets(std::collections::BTreeSet<Area>);

impl Toolsets {
    /// Parses a comma-separated list of area names; an unknown or missing name is refused
    /// with the list of valid ones.
    pub fn parse(list: &str) -> Result<Toolsets, String> {
        let valid = || {
            Area::ALL
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut areas = std::collections::BTreeSet::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match Area::parse(name) {
                Some(area) => areas.insert(area),
                None => {
                    return Err(format!(
                        "`{name}` is not a toolset; toolsets are the policy's areas: {}",
                        valid()
                    ));
                }
            };
        }
        if areas.is_empty() {
            return Err(format!(
                "no toolset given; name one or more of the policy's areas, comma-separated: {}",
                valid()
            ));
        }
        Ok(Toolsets(areas))
    }

    pub fn contains(&self, area: Area) -> bool {
        self.0.contains(&area)
    }

    /// The areas, in the policy's order.
    pub fn areas(&self) -> impl Iterator<Item = Area> + '_ {
        self.0.iter().copied()
    }
}

impl std::fmt::Display for Toolsets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.areas().map(Area::as_str).collect();
        f.write_str(&names.join(","))
    }
}

/// The LiveChat identity an agent's calls use: LiveChat's own history shows them as that
/// identity, so agents sharing the server's token look like one person there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The server's credentials (`LIVECHAT_ACCESS_TOKEN` or `LIVECHAT_PAT`).
    ServerToken,
    /// Its own OAuth token, from the variable its policy names.
    OwnToken,
    /// Its own personal access token, from the variables its policy names.
    OwnPat,
    /// Its own LiveChat bot: `bot 5c98…`, or `bot (none yet)` before `bots provision`.
    Bot(String),
    /// None: the agent is not in the policy and calls nothing.
    Nobody,
}

impl Identity {
    /// As `whoami`, `doctor` and the audit trail say it: `server token`, `own token`, `own
    /// PAT`, `bot 5c98…`, `none`.
    pub fn as_str(&self) -> &str {
        match self {
            Identity::ServerToken => "server token",
            Identity::OwnToken => "own token",
            Identity::OwnPat => "own PAT",
            Identity::Bot(label) => label,
            Identity::Nobody => "none",
        }
    }
}

/// Why an agent may not call a tool. The reason goes to the audit trail; the caller only ever
/// hears that the tool is not available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    NoSuchTool,
    AreaOff,
    ReadOnly,
    /// The area is not among the server's `--toolsets`.
    OutsideToolsets,
    MissingScopes,
}

impl Agent {
    /// An agent calling LiveChat with `credentials` under `settings`' URL, version and timeout.
    pub fn new(
        name: impl Into<String>,
        grants: Grants,
        credentials: Result<Credentials, String>,
        settings: &Settings,
    ) -> Result<Agent, StartError> {
        let mut own = settings.clone();
        own.credentials = credentials;
        Ok(Agent {
            name: name.into(),
            grants,
            token_scopes: None,
            client: ApiClient::new(&own),
            quota: Arc::new(Quota::new(Limits::default())),
            identity: Identity::ServerToken,
            raw_customer_text: settings.raw_customer_text,
            approval: crate::policy::ApprovalRule::default(),
            draft: false,
            toolsets: settings.toolsets.clone(),
        })
    }

    /// The one local agent of a run without a policy file: `--access read|full`.
    pub fn local(settings: &Settings) -> Result<Agent, StartError> {
        let level = settings.access;
        Agent::new(
            LOCAL_AGENT,
            Grants::uniform(level),
            settings.credentials.clone(),
            settings,
        )
    }

    /// The agent `policy` describes: its grants, and its own LiveChat identity if it has one
    /// (then the server's credentials are never used for it).
    pub fn from_policy(entry: &AgentPolicy, settings: &Settings) -> Result<Agent, StartError> {
        let credentials = match &entry.livechat {
            None => settings.credentials.clone(),
            Some(identity) => identity_credentials(&entry.name, identity),
        };
        let mut agent = Agent::new(
            entry.name.clone(),
            entry.grants.clone(),
            credentials,
            settings,
        )?;
        agent.quota = Arc::new(Quota::new(entry.limits));
        agent.approval = entry.approval.clone();
        agent.draft = entry.draft;
        agent.identity = match &entry.livechat {
            None => Identity::ServerToken,
            Some(LiveChatIdentity::Token { .. }) => Identity::OwnToken,
            Some(LiveChatIdentity::Pat { .. }) => Identity::OwnPat,
            Some(LiveChatIdentity::Bot { .. }) => {
                let bot = match &settings.bots {
                    Some(bots) => bots.session(&entry.name, settings),
                    None => Err(format!(
                        "agent `{}` acts in LiveChat as its own bot, but this run has no bot file (bots are kept sealed beside the audit trail's key: the trail is off, or `livechat-mcp bots provision` has not run yet)",
                        entry.name
                    )),
                };
                match bot {
                    Ok(bot) => {
                        let label = bot.label();
                        agent.client = agent.client.with_bot(bot);
                        Identity::Bot(label)
                    }
                    // Its calls say why; the server's credentials are never its fallback.
                    Err(why) => {
                        let mut none = settings.clone();
                        none.credentials = Err(why);
                        agent.client = ApiClient::new(&none);
                        Identity::Bot("bot (none yet)".to_string())
                    }
                }
            }
        };
        Ok(agent)
    }

    /// An agent the policy does not name: it gets nothing.
    pub fn nobody(name: &str, settings: &Settings) -> Result<Agent, StartError> {
        let mut agent = Agent::new(
            name,
            Grants::uniform(Level::Off),
            Err(format!("agent `{name}` is not in the policy")),
            settings,
        )?;
        agent.identity = Identity::Nobody;
        Ok(agent)
    }

    /// Whether this agent may call `spec`, and if not, why.
    pub fn check(&self, spec: &ToolSpec) -> Result<(), Denial> {
        match self.grants.level(spec.area) {
            Level::Off => return Err(Denial::AreaOff),
            Level::Read if spec.access == Access::Write => return Err(Denial::ReadOnly),
            _ => {}
        }
        if self
            .toolsets
            .as_ref()
            .is_some_and(|t| !t.contains(spec.area))
        {
            return Err(Denial::OutsideToolsets);
        }
        match &self.token_scopes {
            Some(have) if !spec.scopes.satisfied_by(have) => Err(Denial::MissingScopes),
            _ => Ok(()),
        }
    }

    /// The grants as this server applies them: areas outside `--toolsets` off. What the
    /// agent may read of the event log follows these.
    pub fn effective_grants(&self) -> Grants {
        match &self.toolsets {
            None => self.grants.clone(),
            Some(toolsets) => self.grants.within(|area| toolsets.contains(area)),
        }
    }

    /// The scopes `spec` needs that the token lacks (all it needs when they are unknown).
    fn lacking(&self, spec: &ToolSpec) -> String {
        match &self.token_scopes {
            Some(have) => scopes::render(&spec.scopes.missing(have), str::to_string),
            None => spec.scopes.to_string(),
        }
    }

    /// The audit trail's reason for a denial, in plain English.
    pub fn reason(&self, spec: Option<&ToolSpec>, denial: &Denial) -> String {
        let area = spec.map(|s| s.area.as_str()).unwrap_or("?");
        match denial {
            Denial::NoSuchTool => "no such tool".to_string(),
            Denial::AreaOff => format!("{area} is off for {}", self.name),
            Denial::ReadOnly => format!("{area} is read-only for {}", self.name),
            Denial::OutsideToolsets => format!(
                "{area} is outside the server's toolsets ({})",
                self.toolsets
                    .as_ref()
                    .map(Toolsets::to_string)
                    .unwrap_or_default()
            ),
            Denial::MissingScopes => format!(
                "the LiveChat token of {} lacks the scope {}",
                self.name,
                spec.map(|s| self.lacking(s)).unwrap_or_default()
            ),
        }
    }
}

/// What to say about agents that act in LiveChat with the server's token: `None` when at most
/// one does. Two or more look like one person in LiveChat's history.
pub fn shared_identity(agents: &[Agent]) -> Option<String> {
    let sharing: Vec<&str> = agents
        .iter()
        .filter(|a| a.identity == Identity::ServerToken)
        .map(|a| a.name.as_str())
        .collect();
    (sharing.len() >= 2).then(|| {
        format!(
            "agents {} all act in LiveChat with the server's token, so LiveChat's history shows them as one person; give each its own identity in the policy (`[agents.NAME.livechat]` with `identity = \"bot\"`, `token_env`, or `pat_env` and `account_id_env`)",
            sharing.join(", ")
        )
    })
}

/// The agents that act with the server's token, for `--require-own-identity`.
pub fn without_own_identity(agents: &[Agent]) -> Vec<&str> {
    agents
        .iter()
        .filter(|a| a.identity == Identity::ServerToken)
        .map(|a| a.name.as_str())
        .collect()
}

/// Resolves which agent a local run (stdio, `tools`, `call`, `doctor`) is. Without a policy:
/// `local` with `--access`. With one: `--agent NAME`, or the only agent of a one-agent policy;
/// a name the policy does not know gets nothing, and the returned note says so.
pub fn resolve_local(
    settings: &Settings,
    policy: Option<&Policy>,
    requested: Option<&str>,
) -> Result<(Agent, Option<String>), StartError> {
    let Some(policy) = policy else {
        return Ok((Agent::local(settings)?, None));
    };
    let entry = match requested {
        Some(name) => policy.agent(name),
        None => policy.only_agent(),
    };
    match (entry, requested) {
        (Some(entry), _) => Ok((Agent::from_policy(entry, settings)?, None)),
        (None, Some(name)) => Ok((
            Agent::nobody(name, settings)?,
            Some(format!(
                "agent `{name}` is not in the policy, so it gets no tools; agents in the policy: {}",
                agent_names(policy)
            )),
        )),
        (None, None) => Ok((
            Agent::nobody("unnamed", settings)?,
            Some(format!(
                "the policy has several agents and no --agent / LIVECHAT_MCP_AGENT was given, so this client gets no tools; agents in the policy: {}",
                agent_names(policy)
            )),
        )),
    }
}

fn agent_names(policy: &Policy) -> String {
    let names: Vec<&str> = policy.agents().map(|a| a.name.as_str()).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// An agent's own LiveChat credentials, from the environment variables its policy names.
fn identity_credentials(agent: &str, identity: &LiveChatIdentity) -> Result<Credentials, String> {
    let read = |var: &str| {
        std::env::var(var).map_err(|_| {
            format!("agent `{agent}` calls LiveChat with its own identity, but the variable {var} named in the policy is not set")
        })
    };
    match identity {
        LiveChatIdentity::Token { token_env } => {
            Credentials::from_values(Some(&read(token_env)?), None, None)
        }
        LiveChatIdentity::Pat {
            pat_env,
            account_id_env,
        } => Credentials::from_values(None, Some(&read(pat_env)?), Some(&read(account_id_env)?)),
        // The bot's session replaces these; they are never used.
        LiveChatIdentity::Bot { .. } => {
            Err(format!("agent `{agent}` acts in LiveChat as its own bot"))
        }
    }
}
