//! LiveChat's scopes, written once: parsing a scope, which granted scope implies which
//! required one, and what a method requires (all of some sets, any one scope of each set).
//! The server hides tools with it and the sandbox answers `authorization` with it.
//!
//! Source for every rule: livechat-public-docs, `src/pages/authorization/scopes/index.mdx`
//! ("General rules" and "Accessing parts of chat"), and the scope catalogue it renders
//! (`src/constants/index.js`, `SCOPES`).

use std::{collections::BTreeSet, fmt};

pub mod lookup;

/// How far a scope reaches: the `--my`, `--access`, `--groups` or `--all` part of its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reach {
    /// The requester's own things (its profile, its groups, chats it is present in).
    My,
    /// Chats in the requester's groups.
    Access,
    /// Things of the requester's groups (tags, canned responses).
    Groups,
    /// Everything on the license.
    All,
}

impl Reach {
    pub const fn as_str(self) -> &'static str {
        match self {
            Reach::My => "my",
            Reach::Access => "access",
            Reach::Groups => "groups",
            Reach::All => "all",
        }
    }

    /// The scopes page, "General rules": "all `access` scopes contain `my` privileges" and
    /// "all `all` scopes contain `access` privileges and `my` privileges". Nothing is said of
    /// `--groups`, so it is implied by nothing but itself.
    const fn contains(self, other: Reach) -> bool {
        matches!(
            (self, other),
            (Reach::My, Reach::My)
                | (Reach::Access, Reach::Access | Reach::My)
                | (Reach::Groups, Reach::Groups)
                | (Reach::All, Reach::All | Reach::Access | Reach::My)
        )
    }
}

/// What a scope allows: the `:ro`, `:rw`, `:rc` or `:own` suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Read only.
    Ro,
    /// Read and write.
    Rw,
    /// Read and create, not modify.
    Rc,
    /// `customers:own`.
    Own,
}

impl Mode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Ro => "ro",
            Mode::Rw => "rw",
            Mode::Rc => "rc",
            Mode::Own => "own",
        }
    }

    /// The scopes page, "General rules": "all `rw` scopes contain `ro` privileges", and `rc`
    /// "means read/create" (the catalogue: `accounts--all:rc` is "Create and read accounts
    /// (modification is denied)"), so it contains `ro` too. Neither `rw` nor `rc` contains
    /// the other: `accounts--all:rw` is "Read and modify", which does not say create.
    const fn contains(self, other: Mode) -> bool {
        matches!(
            (self, other),
            (Mode::Ro, Mode::Ro)
                | (Mode::Rw, Mode::Rw | Mode::Ro)
                | (Mode::Rc, Mode::Rc | Mode::Ro)
                | (Mode::Own, Mode::Own)
        )
    }
}

/// One LiveChat scope, e.g. `chats--access:rw`: a resource, an optional reach and an
/// optional mode (`banlist_read` has neither).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scope<'a> {
    resource: &'a str,
    reach: Option<Reach>,
    mode: Option<Mode>,
}

/// Why a text is not a scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeErrorKind {
    Empty,
    /// Whitespace or a comma: several scopes given as one.
    Separator,
    EmptyResource,
    UnknownReach,
    UnknownMode,
}

/// A text that is not a LiveChat scope, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeError<'a> {
    pub text: &'a str,
    pub kind: ScopeErrorKind,
}

impl fmt::Display for ScopeError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            ScopeErrorKind::Empty => "it is empty",
            ScopeErrorKind::Separator => "it contains a comma or whitespace",
            ScopeErrorKind::EmptyResource => "the part before `--` or `:` is empty",
            ScopeErrorKind::UnknownReach => "the part after `--` is not my, access, groups or all",
            ScopeErrorKind::UnknownMode => "the part after `:` is not ro, rw, rc or own",
        };
        write!(f, "`{}` is not a LiveChat scope: {why}", self.text)
    }
}

impl std::error::Error for ScopeError<'_> {}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The index of the last `needle` (one or two bytes) in `hay`.
const fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut i = hay.len();
    while i >= needle.len() && i > 0 {
        let start = i - needle.len();
        let mut j = 0;
        while j < needle.len() && hay[start + j] == needle[j] {
            j += 1;
        }
        if j == needle.len() {
            return Some(start);
        }
        i -= 1;
    }
    None
}

impl<'a> Scope<'a> {
    /// Parses `text`. A `const fn`, so the scope tables are checked when they compile.
    pub const fn parse(text: &'a str) -> Result<Scope<'a>, ScopeError<'a>> {
        const fn fail(text: &str, kind: ScopeErrorKind) -> Result<Scope<'_>, ScopeError<'_>> {
            Err(ScopeError { text, kind })
        }
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return fail(text, ScopeErrorKind::Empty);
        }
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b',' || bytes[i].is_ascii_whitespace() {
                return fail(text, ScopeErrorKind::Separator);
            }
            i += 1;
        }
        let (left, mode) = match rfind(bytes, b":") {
            None => (text, None),
            Some(at) => {
                let (left, right) = text.split_at(at);
                let mode = right.split_at(1).1.as_bytes();
                let mode = if same(mode, b"ro") {
                    Mode::Ro
                } else if same(mode, b"rw") {
                    Mode::Rw
                } else if same(mode, b"rc") {
                    Mode::Rc
                } else if same(mode, b"own") {
                    Mode::Own
                } else {
                    return fail(text, ScopeErrorKind::UnknownMode);
                };
                (left, Some(mode))
            }
        };
        let (resource, reach) = match rfind(left.as_bytes(), b"--") {
            None => (left, None),
            Some(at) => {
                let (resource, right) = left.split_at(at);
                let reach = right.split_at(2).1.as_bytes();
                let reach = if same(reach, b"my") {
                    Reach::My
                } else if same(reach, b"access") {
                    Reach::Access
                } else if same(reach, b"groups") {
                    Reach::Groups
                } else if same(reach, b"all") {
                    Reach::All
                } else {
                    return fail(text, ScopeErrorKind::UnknownReach);
                };
                (resource, Some(reach))
            }
        };
        if resource.is_empty() {
            return fail(text, ScopeErrorKind::EmptyResource);
        }
        Ok(Scope {
            resource,
            reach,
            mode,
        })
    }

    pub fn resource(&self) -> &'a str {
        self.resource
    }

    pub fn reach(&self) -> Option<Reach> {
        self.reach
    }

    pub fn mode(&self) -> Option<Mode> {
        self.mode
    }

    /// Whether a token granted `self` may do what `required` allows.
    pub fn implies(&self, required: &Scope<'_>) -> bool {
        let reach = match (self.reach, required.reach) {
            (Some(have), Some(need)) => have.contains(need),
            (have, need) => have == need,
        };
        let mode = match (self.mode, required.mode) {
            (Some(have), Some(need)) => have.contains(need),
            (have, need) => have == need,
        };
        (self.resource == required.resource && reach && mode) || self.implies_chats_read(required)
    }

    /// The scopes page, "Accessing parts of chat": `chats.conversation-*:rw` gives `ro` on a
    /// chat's meta data and `rw` on its conversation data; the catalogue says so per scope,
    /// e.g. `chats.conversation--access:rw` includes "Read permission for conversation and
    /// meta data of chats with requester access (chats--access:ro)".
    fn implies_chats_read(&self, required: &Scope<'_>) -> bool {
        self.resource == "chats.conversation"
            && self.mode == Some(Mode::Rw)
            && required.resource == "chats"
            && required.mode == Some(Mode::Ro)
            && match (self.reach, required.reach) {
                (Some(have), Some(need)) => have.contains(need),
                _ => false,
            }
    }
}

impl fmt::Display for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.resource)?;
        if let Some(reach) = self.reach {
            write!(f, "--{}", reach.as_str())?;
        }
        if let Some(mode) = self.mode {
            write!(f, ":{}", mode.as_str())?;
        }
        Ok(())
    }
}

/// Panics, at compile time when called in a constant, if a text is not a scope.
const fn check_all(scopes: &[&str]) {
    let mut i = 0;
    while i < scopes.len() {
        if Scope::parse(scopes[i]).is_err() {
            panic!("not a LiveChat scope (see scopes::Scope::parse)");
        }
        i += 1;
    }
}

/// What a method requires of the token: every one of its sets, and of each set any one scope.
/// It is built in constants, so each scope's text is checked when the table compiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirement(Sets);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sets {
    One(&'static [&'static str]),
    Several(&'static [&'static [&'static str]]),
}

impl Requirement {
    /// Needs nothing.
    pub const NONE: Requirement = Requirement(Sets::Several(&[]));

    /// Any one of `scopes` suffices.
    pub const fn any_of(scopes: &'static [&'static str]) -> Requirement {
        check_all(scopes);
        Requirement(Sets::One(scopes))
    }

    /// Every set is needed, and any one scope of each set suffices for that set.
    pub const fn all_of(sets: &'static [&'static [&'static str]]) -> Requirement {
        let mut i = 0;
        while i < sets.len() {
            check_all(sets[i]);
            i += 1;
        }
        Requirement(Sets::Several(sets))
    }

    /// The sets, each as its scopes' text.
    pub fn sets(&self) -> &[&'static [&'static str]] {
        match &self.0 {
            Sets::One(one) => std::slice::from_ref(one),
            Sets::Several(sets) => sets,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sets().iter().all(|set| set.is_empty())
    }

    /// Every scope named, in order, for listings.
    pub fn scopes(&self) -> Vec<&'static str> {
        self.sets()
            .iter()
            .flat_map(|set| set.iter().copied())
            .collect()
    }

    /// The sets `granted` does not satisfy; empty when the requirement is met.
    pub fn missing(&self, granted: &Granted) -> Vec<&'static [&'static str]> {
        self.sets()
            .iter()
            .copied()
            .filter(|set| !set.is_empty() && !set.iter().any(|s| granted.has(s)))
            .collect()
    }

    pub fn satisfied_by(&self, granted: &Granted) -> bool {
        self.missing(granted).is_empty()
    }

    /// The requirement with each scope in backticks, for text the model reads.
    pub fn quoted(&self) -> String {
        render(self.sets(), |s| format!("`{s}`"))
    }

    /// `[[any of], [any of], ...]`, for snapshots and JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self.sets())
    }
}

/// "a or b" for one set; "(a or b) and c" for several.
pub fn render(sets: &[&[&str]], show: impl Fn(&str) -> String) -> String {
    let several = sets.len() > 1;
    sets.iter()
        .map(|set| {
            let text = set.iter().map(|s| show(s)).collect::<Vec<_>>().join(" or ");
            if several && set.len() > 1 {
                format!("({text})")
            } else {
                text
            }
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(self.sets(), str::to_string))
    }
}

/// The scopes a token carries. `every()` carries all of them (the sandbox's default token).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Granted {
    /// `None`: every scope.
    listed: Option<BTreeSet<String>>,
}

impl Granted {
    pub fn every() -> Granted {
        Granted { listed: None }
    }

    /// Splits `"chats--access:ro, customers:ro"` (commas or whitespace), as LiveChat's
    /// token info lists them in `scope`.
    pub fn parse_list(text: &str) -> Granted {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The listed scopes as given, sorted; `None` for `every()`.
    pub fn listed(&self) -> Option<impl Iterator<Item = &str>> {
        self.listed.as_ref().map(|l| l.iter().map(String::as_str))
    }

    /// Whether the token carries `required` or a scope that implies it. A granted text that
    /// is not a scope (LiveChat may add kinds we do not know) only ever matches itself.
    pub fn has(&self, required: &str) -> bool {
        let Some(listed) = &self.listed else {
            return true;
        };
        if listed.contains(required) {
            return true;
        }
        let Ok(need) = Scope::parse(required) else {
            return false;
        };
        listed
            .iter()
            .filter_map(|g| Scope::parse(g).ok())
            .any(|have| have.implies(&need))
    }
}

impl FromIterator<String> for Granted {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Granted {
        Granted {
            listed: Some(iter.into_iter().collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(text: &str) -> Granted {
        Granted::parse_list(text)
    }

    #[test]
    fn parses_every_shape_livechat_uses() {
        let s = Scope::parse("agents-bot--all:ro").unwrap();
        assert_eq!(
            (s.resource(), s.reach(), s.mode()),
            ("agents-bot", Some(Reach::All), Some(Mode::Ro))
        );
        let s = Scope::parse("chats.conversation--access:rw").unwrap();
        assert_eq!(s.resource(), "chats.conversation");
        let s = Scope::parse("banlist_read").unwrap();
        assert_eq!((s.reach(), s.mode()), (None, None));
        let s = Scope::parse("customers:own").unwrap();
        assert_eq!((s.reach(), s.mode()), (None, Some(Mode::Own)));
        assert_eq!(s.to_string(), "customers:own");
        for (text, kind) in [
            ("", ScopeErrorKind::Empty),
            ("chats--all:ro,customers:ro", ScopeErrorKind::Separator),
            ("chats--all:ro customers:ro", ScopeErrorKind::Separator),
            (":rw", ScopeErrorKind::EmptyResource),
            ("--all:rw", ScopeErrorKind::EmptyResource),
            ("chats--some:rw", ScopeErrorKind::UnknownReach),
            ("chats--:rw", ScopeErrorKind::UnknownReach),
            ("chats--all:write", ScopeErrorKind::UnknownMode),
        ] {
            assert_eq!(Scope::parse(text), Err(ScopeError { text, kind }), "{text}");
        }
        assert!(
            Scope::parse("chats--all:x")
                .unwrap_err()
                .to_string()
                .starts_with("`chats--all:x` is not a LiveChat scope")
        );
    }

    #[test]
    fn rw_and_rc_contain_ro_and_not_each_other() {
        let rw = granted("customers:rw accounts--all:rw");
        assert!(rw.has("customers:ro"));
        assert!(rw.has("accounts--all:ro"));
        assert!(!rw.has("accounts--all:rc"), "rw is read/modify, not create");
        let rc = granted("accounts--all:rc");
        assert!(rc.has("accounts--all:ro"));
        assert!(!rc.has("accounts--all:rw"));
        assert!(!granted("customers:ro").has("customers:rw"));
        assert!(!granted("customers:own").has("customers:ro"));
    }

    #[test]
    fn all_contains_access_and_my_and_access_contains_my() {
        let all = granted("chats--all:rw");
        assert!(all.has("chats--access:rw"));
        assert!(all.has("chats--my:ro"), "reach and mode combine");
        assert!(granted("agents--all:ro").has("agents--my:ro"));
        assert!(granted("chats--access:ro").has("chats--my:ro"));
        assert!(!granted("chats--access:ro").has("chats--all:ro"));
        assert!(!granted("chats--my:rw").has("chats--access:rw"));
        assert!(!granted("agents--my:rw").has("agents--all:rw"));
    }

    #[test]
    fn groups_is_only_implied_by_itself() {
        assert!(!granted("tags--all:rw").has("tags--groups:rw"));
        assert!(!granted("tags--groups:rw").has("tags--my:rw"));
        assert!(granted("tags--groups:rw").has("tags--groups:ro"));
    }

    #[test]
    fn implications_stay_within_a_resource() {
        assert!(!granted("agents--all:rw").has("agents-bot--all:rw"));
        assert!(!granted("chats--all:rw").has("customers:ro"));
        assert!(!granted("accounts--all:rw").has("accounts.roles.lc--all:rw"));
        assert!(!granted("customers:rw").has("customers.ban:rw"));
        assert!(!granted("customers--all:rw").has("customers:rw"));
    }

    #[test]
    fn chat_conversation_write_contains_chat_read() {
        let conv = granted("chats.conversation--access:rw");
        assert!(conv.has("chats--access:ro"));
        assert!(conv.has("chats--my:ro"));
        assert!(!conv.has("chats--all:ro"));
        assert!(!conv.has("chats--access:rw"), "meta data stays read-only");
    }

    #[test]
    fn unknown_granted_text_matches_only_itself() {
        let odd = granted("future.thing:xx chats--all:ro");
        assert!(odd.has("future.thing:xx"));
        assert!(odd.has("chats--access:ro"));
        assert!(Granted::every().has("anything:rw"));
        assert_eq!(
            odd.listed().unwrap().collect::<Vec<_>>(),
            ["chats--all:ro", "future.thing:xx"]
        );
    }

    const ANY: Requirement = Requirement::any_of(&["chats--all:ro", "chats--access:ro"]);
    const BOTH: Requirement = Requirement::all_of(&[&["agents--all:ro"], &["agents-bot--all:ro"]]);
    const PAIRS: Requirement = Requirement::all_of(&[
        &["agents--my:rw", "agents--all:rw"],
        &["accounts--my:rw", "accounts--all:rw"],
    ]);

    #[test]
    fn any_of_needs_one_scope_of_its_set() {
        assert!(ANY.satisfied_by(&granted("chats--access:ro")));
        assert!(ANY.satisfied_by(&granted("chats--all:rw")));
        assert!(!ANY.satisfied_by(&granted("customers:ro")));
        assert_eq!(
            ANY.missing(&granted("customers:ro")),
            [&["chats--all:ro", "chats--access:ro"][..]]
        );
        assert_eq!(ANY.to_string(), "chats--all:ro or chats--access:ro");
        assert_eq!(ANY.quoted(), "`chats--all:ro` or `chats--access:ro`");
    }

    #[test]
    fn all_of_needs_every_set() {
        assert!(BOTH.satisfied_by(&granted("agents--all:ro agents-bot--all:ro")));
        assert!(BOTH.satisfied_by(&granted("agents--all:rw,agents-bot--all:rw")));
        let half = granted("agents--all:ro");
        assert!(!BOTH.satisfied_by(&half));
        assert_eq!(BOTH.missing(&half), [&["agents-bot--all:ro"][..]]);
        assert_eq!(BOTH.to_string(), "agents--all:ro and agents-bot--all:ro");

        assert!(PAIRS.satisfied_by(&granted("agents--my:rw accounts--all:rw")));
        assert!(!PAIRS.satisfied_by(&granted("agents--all:rw")));
        assert_eq!(
            PAIRS.to_string(),
            "(agents--my:rw or agents--all:rw) and (accounts--my:rw or accounts--all:rw)"
        );
        assert_eq!(
            PAIRS.to_json(),
            serde_json::json!([
                ["agents--my:rw", "agents--all:rw"],
                ["accounts--my:rw", "accounts--all:rw"]
            ])
        );
        assert_eq!(
            PAIRS.scopes(),
            [
                "agents--my:rw",
                "agents--all:rw",
                "accounts--my:rw",
                "accounts--all:rw"
            ]
        );
    }

    #[test]
    fn nothing_required_is_always_met() {
        assert!(Requirement::NONE.is_empty());
        assert!(Requirement::NONE.satisfied_by(&granted("")));
        assert!(!ANY.is_empty());
    }
}
