//! The `bots` commands as the command line runs them: output on stdout, exit codes.

use std::process::ExitCode;

use super::{provision, store::BotStore};
use crate::{
    audit::AuditStore, client::ApiClient, config::Settings, policy::Policy, server::LiveChatServer,
    tools::Area,
};

/// What `bots` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotsCommand {
    Provision { dry_run: bool },
    List,
    Rotate { agent: String },
}

/// Runs `command` with the server's `settings` (its credentials make the bots), the
/// `policy`, the bot file beside `audit`'s key, and the client ID bots are made for.
pub async fn run(
    command: &BotsCommand,
    settings: &Settings,
    policy: &Policy,
    audit: AuditStore,
    client_id: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let mut store = BotStore::beside_key(audit.key_path()).map_err(anyhow::Error::msg)?;
    match command {
        BotsCommand::List => {
            print!("{}", listing(policy, &store));
            Ok(ExitCode::SUCCESS)
        }
        BotsCommand::Rotate { agent } => {
            let issuer = ApiClient::new(settings);
            match provision::rotate(agent, &mut store, &issuer, Some(&audit), client_id).await {
                Ok(line) => {
                    println!("{line}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        BotsCommand::Provision { dry_run } => {
            let wanted = provision::wanted(policy);
            if wanted.is_empty() {
                println!(
                    "no agent in the policy acts as a bot; give one `identity = \"bot\"` under `[agents.NAME.livechat]`"
                );
                return Ok(ExitCode::SUCCESS);
            }
            let server = LiveChatServer::for_operator(
                provision::PROVISIONER,
                Area::Agents,
                settings,
                Some(audit.clone()),
            )?;
            let actions = match provision::plan(policy, &store, &server).await {
                Ok(actions) => actions,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(1));
                }
            };
            let changes = actions
                .iter()
                .any(|a| !matches!(a, provision::Action::Keep { .. }));
            if *dry_run {
                for action in &actions {
                    println!("{}", action.describe(false));
                }
                println!("dry run: nothing was created or changed");
                return Ok(ExitCode::SUCCESS);
            }
            let client_id = match client_id {
                Some(id) => id.to_string(),
                None if !changes => String::new(),
                None => {
                    eprintln!(
                        "error: bots are made for an app's client ID: give it with --client-id or LIVECHAT_CLIENT_ID (the server issues the bots' tokens for that client)"
                    );
                    return Ok(ExitCode::from(2));
                }
            };
            let issuer = ApiClient::new(settings);
            match provision::apply(
                &actions,
                &mut store,
                &server,
                &issuer,
                Some(&audit),
                &client_id,
            )
            .await
            {
                Ok(lines) => {
                    for line in lines {
                        println!("{line}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// `bots list`: each bot agent of the policy with its bot, when it got its secret, and the
/// expiry of the token a server last issued for it.
pub fn listing(policy: &Policy, store: &BotStore) -> String {
    let wanted = provision::wanted(policy);
    if wanted.is_empty() && store.all().next().is_none() {
        return "no agent in the policy acts as a bot, and no bot is on file\n".to_string();
    }
    let tokens = super::store::read_token_expiries(store.path());
    let mut out = format!(
        "{:<20} {:<34} {:<22} TOKEN EXPIRES\n",
        "AGENT", "BOT", "SECRET SINCE"
    );
    for agent in wanted.keys() {
        match store.get(agent) {
            Some(bot) => out.push_str(&format!(
                "{:<20} {:<34} {:<22} {}\n",
                agent,
                bot.bot_id,
                bot.since,
                tokens
                    .get(agent)
                    .map_or("no token issued yet", String::as_str)
            )),
            None => out.push_str(&format!(
                "{agent:<20} {:<34} {:<22} -\n",
                "none yet (run `bots provision`)", "-"
            )),
        }
    }
    for bot in store.all().filter(|b| !wanted.contains_key(&b.agent)) {
        out.push_str(&format!(
            "{:<20} {:<34} {:<22} (not a bot agent in this policy)\n",
            bot.agent, bot.bot_id, bot.since
        ));
    }
    out
}
