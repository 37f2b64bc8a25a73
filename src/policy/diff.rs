//! What changed between two policies, in the words the audit trail records them:
//! `set chats to read for support-bot`, `added agent x`, `changed the key of x`.

use super::{AgentPolicy, Policy};
use crate::tools::Area;

/// Every difference from `before` to `after`, agent by agent (sorted by name), then the admin
/// key. Empty when they are the same.
pub fn changes(before: &Policy, after: &Policy) -> Vec<String> {
    let mut words = Vec::new();
    let names: std::collections::BTreeSet<&str> = before
        .agents()
        .chain(after.agents())
        .map(|a| a.name.as_str())
        .collect();
    for name in names {
        match (before.agent(name), after.agent(name)) {
            (None, Some(_)) => words.push(format!("added agent {name}")),
            (Some(_), None) => words.push(format!("removed agent {name}")),
            (Some(old), Some(new)) => agent_changes(old, new, &mut words),
            (None, None) => {}
        }
    }
    if before.admin_key_sha256() != after.admin_key_sha256() {
        words.push("changed the admin key".to_string());
    }
    words
}

fn agent_changes(old: &AgentPolicy, new: &AgentPolicy, words: &mut Vec<String>) {
    let name = &new.name;
    for area in Area::ALL {
        let level = new.grants.level(area);
        if old.grants.level(area) != level {
            words.push(format!("set {} to {} for {name}", area.as_str(), level));
        }
    }
    if old.key_sha256 != new.key_sha256 {
        words.push(match (&old.key_sha256, &new.key_sha256) {
            (None, Some(_)) => format!("made a key for {name}"),
            (Some(_), None) => format!("took the key of {name} away"),
            _ => format!("rotated the key of {name}"),
        });
    }
    if old.livechat != new.livechat {
        words.push(format!("changed the LiveChat identity of {name}"));
    }
    if old.limits != new.limits {
        words.push(format!("changed the limits of {name}"));
    }
    if old.approval != new.approval {
        words.push(format!("changed which calls of {name} wait for a person"));
    }
    if old.draft != new.draft {
        let state = if new.draft { "on" } else { "off" };
        words.push(format!("turned drafts {state} for {name}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Policy {
        Policy::parse(text, "p.toml").expect("policy")
    }

    #[test]
    fn every_kind_of_change_is_named() {
        let key = |k: &str| crate::policy::key_sha256(k);
        let before = parse(&format!(
            "[agents.ops]\naccess = {{ chats = \"read\" }}\nkey_sha256 = \"{}\"\n[agents.old]\naccess = {{}}\n",
            key("a")
        ));
        let after = parse(&format!(
            "[agents.ops]\naccess = {{ chats = \"full\", customers = \"read\" }}\nkey_sha256 = \"{}\"\ndraft = true\nlimits = {{ calls_per_minute = 5 }}\napprove = [\"send_event\"]\n[agents.new]\naccess = {{}}\n[admin]\nkey_sha256 = \"{}\"\n",
            key("b"),
            key("admin")
        ));
        assert_eq!(
            changes(&before, &after),
            [
                "added agent new",
                "removed agent old",
                "set chats to full for ops",
                "set customers to read for ops",
                "rotated the key of ops",
                "changed the limits of ops",
                "changed which calls of ops wait for a person",
                "turned drafts on for ops",
                "changed the admin key",
            ]
        );
        assert!(changes(&after, &after).is_empty());
    }
}
