//! How a call to a method is recorded: which of its arguments name what it acts on, and the
//! words of its plain-English sentence. Each tool declares these next to its other facts; the
//! audit module reads them with generic code, so no table elsewhere keys on a method's name.

/// An argument that names what a call acts on, or describes what it carries. The path is a
/// dot-separated list of object keys from the arguments' root (`chat.thread.events`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Names {
    Chat(&'static str),
    Thread(&'static str),
    Event(&'static str),
    Customer(&'static str),
    Agent(&'static str),
    /// An integer group ID.
    Group(&'static str),
    /// A tag, by name.
    Tag(&'static str),
    /// A property, by name.
    Property(&'static str),
    Webhook(&'static str),
    /// A user ID whose kind (`agent` or `customer`) is in the `kind` field beside it.
    User {
        id: &'static str,
        kind: &'static str,
    },
    /// The customer among an array of chat users.
    CustomerAmong(&'static str),
    /// Where a transfer goes: `{"type", "ids"}`.
    TransferTarget(&'static str),
    /// One event or an array of events: kept as type, visibility, count, text length and hash.
    Events(&'static str),
    /// Property values or names (`namespace → name → …`): kept as `namespace.name`.
    PropertyNames(&'static str),
    /// The fields an update sets, besides `id`: kept as names, never values.
    ChangedFields,
    /// A ban's length in days.
    Days(&'static str),
    /// A routing status.
    Status(&'static str),
    /// A webhook action.
    Action(&'static str),
    /// A file sent as a form (`upload_file`): its name and content type from these arguments;
    /// its size and SHA-256 once it is read, never its bytes.
    File {
        name: &'static str,
        content_type: &'static str,
    },
}

impl Names {
    /// The path this declaration reads; `None` for `ChangedFields`, which reads every field.
    pub const fn path(&self) -> Option<&'static str> {
        match *self {
            Names::Chat(p)
            | Names::Thread(p)
            | Names::Event(p)
            | Names::Customer(p)
            | Names::Agent(p)
            | Names::Group(p)
            | Names::Tag(p)
            | Names::Property(p)
            | Names::Webhook(p)
            | Names::CustomerAmong(p)
            | Names::TransferTarget(p)
            | Names::Events(p)
            | Names::PropertyNames(p)
            | Names::Days(p)
            | Names::Status(p)
            | Names::Action(p) => Some(p),
            Names::User { id, .. } => Some(id),
            Names::File { name, .. } => Some(name),
            Names::ChangedFields => None,
        }
    }
}

/// The words of a call's sentence: `sent` / `send` and an object such as
/// `{event_kind} to {chat}`. The audit renders it as "support-bot sent a message to chat
/// PJ0MRSHTDG" or "support-bot tried to send a message to chat PJ0MRSHTDG".
///
/// In `object`, `{name}` is a placeholder; `[…]` is kept only when every placeholder inside
/// it has a value. Outside brackets a missing value reads as "a chat", "an agent", ….
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Said {
    /// The verb in the past tense: `banned`.
    pub past: &'static str,
    /// The verb's base form, after "tried to" or "would": `ban`.
    pub base: &'static str,
    pub object: &'static str,
}

impl Said {
    pub const NONE: Said = Said {
        past: "",
        base: "",
        object: "",
    };

    /// The placeholders `object` uses, in order.
    pub fn placeholders(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut rest = self.object;
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else { break };
            out.push(&after[..end]);
            rest = &after[end + 1..];
        }
        out
    }
}

/// Whether a declaration gives a placeholder its value.
type Gives = fn(&Names) -> bool;

/// The placeholders a sentence may use, each with the declarations that give it a value.
pub const PLACEHOLDERS: &[(&str, Gives)] = &[
    ("chat", |n| matches!(n, Names::Chat(_))),
    ("thread", |n| matches!(n, Names::Thread(_))),
    ("event", |n| matches!(n, Names::Event(_))),
    ("rich_message", |n| matches!(n, Names::Event(_))),
    ("user", |n| matches!(n, Names::User { .. })),
    ("customer", |n| {
        matches!(n, Names::Customer(_) | Names::CustomerAmong(_))
    }),
    ("agent", |n| matches!(n, Names::Agent(_))),
    // A bot is an agent; its ID is named the same way, and read as `bot …`.
    ("bot", |n| matches!(n, Names::Agent(_))),
    ("group", |n| matches!(n, Names::Group(_))),
    ("tag", |n| matches!(n, Names::Tag(_))),
    ("property", |n| matches!(n, Names::Property(_))),
    ("webhook", |n| matches!(n, Names::Webhook(_))),
    ("target", |n| matches!(n, Names::TransferTarget(_))),
    ("event_kind", |n| matches!(n, Names::Events(_))),
    ("fields", |n| {
        matches!(n, Names::PropertyNames(_) | Names::ChangedFields)
    }),
    ("days", |n| matches!(n, Names::Days(_))),
    ("status", |n| matches!(n, Names::Status(_))),
    ("action", |n| matches!(n, Names::Action(_))),
    ("file", |n| matches!(n, Names::File { .. })),
];

/// Whether `placeholder` is known and one of `names` gives it a value.
pub fn placeholder_declared(placeholder: &str, names: &[Names]) -> bool {
    PLACEHOLDERS
        .iter()
        .find(|(name, _)| *name == placeholder)
        .is_some_and(|(_, gives)| names.iter().any(gives))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_read_in_order() {
        let said = Said {
            past: "banned",
            base: "ban",
            object: "{customer}[ for {days}]",
        };
        assert_eq!(said.placeholders(), ["customer", "days"]);
        assert!(placeholder_declared("days", &[Names::Days("ban.days")]));
        assert!(!placeholder_declared("days", &[Names::Customer("id")]));
        assert!(!placeholder_declared("nope", &[Names::Customer("id")]));
    }
}
