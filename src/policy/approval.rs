//! The approval keys of an `[agents.NAME]` table: `approve` (tools or areas whose calls wait
//! for a person), `approvers` (who may give that approval) and `draft` (customer-visible
//! messages become internal notes).

use toml::Spanned;
use toml::de::{DeString, DeValue};

use super::{Doc, listed, shown, suggest};
use crate::tools::{Access, Area, ToolSpec};

/// Who may approve a held call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Approver {
    /// A supervisor, out of band: `livechat-mcp approvals approve`, or the web console.
    Console,
    /// The person in front of the MCP client, through elicitation.
    Client,
}

impl Approver {
    pub const ALL: [Approver; 2] = [Approver::Console, Approver::Client];

    pub const fn as_str(self) -> &'static str {
        match self {
            Approver::Console => "console",
            Approver::Client => "client",
        }
    }

    pub fn parse(name: &str) -> Option<Approver> {
        Approver::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// Which of an agent's calls wait for a person, and who may let them through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRule {
    /// Tool names and area names, as the file lists them; empty: nothing waits.
    pub needs: Vec<String>,
    /// Who may approve; never empty (both unless the file says otherwise).
    pub approvers: Vec<Approver>,
}

impl Default for ApprovalRule {
    fn default() -> Self {
        ApprovalRule {
            needs: Vec::new(),
            approvers: Approver::ALL.to_vec(),
        }
    }
}

impl ApprovalRule {
    /// Whether a call of `spec` waits for a person: it is named, or it writes in a named
    /// area (an area holds its writes; a read waits only when named itself).
    pub fn applies(&self, spec: &ToolSpec) -> bool {
        self.needs
            .iter()
            .any(|n| n == spec.name || (spec.access == Access::Write && n == spec.area.as_str()))
    }

    pub fn allows(&self, approver: Approver) -> bool {
        self.approvers.contains(&approver)
    }
}

impl Doc<'_> {
    /// `approve = ["ban_customer", "agents"]`: every word a tool of some API version or an
    /// area.
    pub(super) fn approve(
        &self,
        agent: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Vec<String>, String> {
        let mut names: Vec<&str> = Area::ALL.iter().map(|a| a.as_str()).collect();
        names.extend(crate::tools::all().map(|s| s.name));
        let words = self.strings(
            agent,
            key,
            value,
            "tool or area names, like `approve = [\"ban_customer\", \"agents\"]`",
        )?;
        let mut needs = Vec::new();
        for (word, span) in words {
            if !names.contains(&word.as_str()) {
                return Err(self.at(
                    span,
                    format!(
                        "unknown tool or area `{}` in `approve` of agent `{agent}` (areas: {}; or a tool name as tools/list shows it){}",
                        shown(&word),
                        listed(&names[..Area::ALL.len()]),
                        suggest(&word, &names),
                    ),
                ));
            }
            if !needs.contains(&word) {
                needs.push(word);
            }
        }
        Ok(needs)
    }

    /// `approvers = ["console", "client"]`: at least one, each known.
    pub(super) fn approvers(
        &self,
        agent: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Vec<Approver>, String> {
        let names: Vec<&str> = Approver::ALL.iter().map(|a| a.as_str()).collect();
        let words = self.strings(agent, key, value, "`\"console\"`, `\"client\"` or both")?;
        if words.is_empty() {
            return Err(self.at(
                value.span(),
                format!(
                    "`approvers` of agent `{agent}` is empty, so nobody could approve its held calls; name `\"console\"`, `\"client\"` or both (or leave the key out for both)"
                ),
            ));
        }
        let mut approvers = Vec::new();
        for (word, span) in words {
            let Some(approver) = Approver::parse(&word) else {
                return Err(self.at(
                    span,
                    format!(
                        "unknown approver `{}` for agent `{agent}` (approvers: {}){}",
                        shown(&word),
                        listed(&names),
                        suggest(&word, &names),
                    ),
                ));
            };
            if !approvers.contains(&approver) {
                approvers.push(approver);
            }
        }
        Ok(approvers)
    }

    /// `draft = true|false`.
    pub(super) fn draft(
        &self,
        agent: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<bool, String> {
        match value.get_ref() {
            DeValue::Boolean(on) => Ok(*on),
            _ => Err(self.at(
                key.span(),
                format!("`draft` of agent `{agent}` must be `true` or `false`"),
            )),
        }
    }

    /// An array of strings with each one's place, or an error saying what belongs there.
    fn strings(
        &self,
        agent: &str,
        key: &Spanned<DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
        what: &str,
    ) -> Result<Vec<(String, std::ops::Range<usize>)>, String> {
        let field = key.get_ref().as_ref();
        let wrong = || {
            self.at(
                key.span(),
                format!("`{field}` of agent `{agent}` must be an array of strings: {what}"),
            )
        };
        let DeValue::Array(items) = value.get_ref() else {
            return Err(wrong());
        };
        items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(word) => Ok((word.to_string(), item.span())),
                _ => Err(wrong()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn parse(text: &str) -> Result<Policy, String> {
        Policy::parse(text, "policy.toml")
    }

    #[test]
    fn approve_names_tools_and_areas_and_an_area_holds_its_writes() {
        let policy = parse(
            "[agents.ops]\naccess = { \"*\" = \"full\" }\napprove = [\"ban_customer\", \"agents\", \"ban_customer\"]\napprovers = [\"console\"]\ndraft = true\n",
        )
        .expect("valid");
        let ops = policy.agent("ops").expect("ops");
        assert_eq!(ops.approval.needs, ["ban_customer", "agents"]);
        assert_eq!(ops.approval.approvers, [Approver::Console]);
        assert!(ops.draft);
        let tool = |name| crate::tools::find(name).expect(name);
        assert!(ops.approval.applies(tool("ban_customer")));
        assert!(ops.approval.applies(tool("delete_agent")));
        assert!(
            !ops.approval.applies(tool("list_agents")),
            "an area holds writes only"
        );
        assert!(!ops.approval.applies(tool("send_event")));
        let plain = parse("[agents.a]\naccess = { chats = \"read\" }\n").expect("valid");
        let a = plain.agent("a").expect("a");
        assert!(a.approval.needs.is_empty() && !a.draft);
        assert_eq!(a.approval.approvers, Approver::ALL, "both by default");
    }

    #[test]
    fn bad_approval_keys_name_the_file_the_line_and_the_fix() {
        for (text, want) in [
            (
                "[agents.ops]\napprove = [\"ban_custmer\"]\n",
                "policy.toml:2: unknown tool or area `ban_custmer` in `approve` of agent `ops`",
            ),
            (
                "[agents.ops]\napprove = [\"ban_custmer\"]\n",
                "did you mean `ban_customer`?",
            ),
            (
                "[agents.ops]\n\napprove = \"ban_customer\"\n",
                "policy.toml:3: `approve` of agent `ops` must be an array of strings",
            ),
            (
                "[agents.ops]\napprove = [1]\n",
                "policy.toml:2: `approve` of agent `ops` must be an array",
            ),
            (
                "[agents.ops]\napprovers = [\"consle\"]\n",
                "policy.toml:2: unknown approver `consle` for agent `ops` (approvers: `console`, `client`); did you mean `console`?",
            ),
            (
                "[agents.ops]\napprovers = []\n",
                "policy.toml:2: `approvers` of agent `ops` is empty, so nobody could approve",
            ),
            (
                "[agents.ops]\ndraft = \"yes\"\n",
                "policy.toml:2: `draft` of agent `ops` must be `true` or `false`",
            ),
            ("[agents.ops]\napprov = []\n", "did you mean `approve`?"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(want), "{text:?}\n got: {err}\nwant: {want}");
        }
    }
}
