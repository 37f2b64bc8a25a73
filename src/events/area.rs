//! Which area each webhook action belongs to: an agent sees an event only if it may read that
//! area. The mapping is not a second table of methods: an action a tool triggers takes the
//! area of that tool's `ToolSpec` (its `.webhook(..)`), read through [`read_area`]; only the
//! actions no tool of ours triggers are listed here, in [`UNTRIGGERED`].

use crate::tools::{self, Area};

/// Actions LiveChat sends that no tool triggers (someone else acts: LiveChat itself, another
/// app, the agent app), with the area whose read tools show what they tell.
const UNTRIGGERED: &[(&str, Area)] = &[
    // v3.6: an event removed or edited; shown by `get_chat`/`list_threads`.
    ("event_deleted", Area::Chats),
    ("event_updated", Area::Chats),
    // Who may see a chat changed (groups moved); shown by `get_chat`.
    ("chat_access_updated", Area::Chats),
    // An invited agent accepted; shown by `list_agents`.
    ("agent_approved", Area::Agents),
];

/// The area whose read tools show what a tool of `area` changes. The events, chat access and
/// chat properties areas only write (or, for chat access, list transfer targets): their
/// results are read in a chat, so their events are `chats` events. An agent with
/// `chats = "off"` never learns a customer wrote, whatever its `events` grant.
pub const fn read_area(area: Area) -> Area {
    match area {
        Area::Events | Area::ChatAccess | Area::ChatProperties => Area::Chats,
        Area::Chats
        | Area::Customers
        | Area::Agents
        | Area::Groups
        | Area::Webhooks
        | Area::TagsProperties
        | Area::Routing => area,
    }
}

/// The area the webhook action `action` belongs to; `None` for an action we do not know.
pub fn area_of(action: &str) -> Option<Area> {
    tools::all()
        .find(|spec| spec.webhook == Some(action))
        .map(|spec| read_area(spec.area))
        .or_else(|| {
            UNTRIGGERED
                .iter()
                .find(|(name, _)| *name == action)
                .map(|(_, area)| *area)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The actions issue 13 asks for, with the area the issue gives each: written out here so
    /// that a tool moved to another area cannot silently change who sees its events.
    const ISSUE_ACTIONS: [(&str, Area); 20] = [
        ("incoming_chat", Area::Chats),
        ("incoming_event", Area::Chats),
        ("incoming_rich_message_postback", Area::Chats),
        ("chat_deactivated", Area::Chats),
        ("chat_transferred", Area::Chats),
        ("user_added_to_chat", Area::Chats),
        ("user_removed_from_chat", Area::Chats),
        ("chat_properties_updated", Area::Chats),
        ("thread_tagged", Area::Chats),
        ("thread_untagged", Area::Chats),
        ("routing_status_set", Area::Routing),
        ("agent_created", Area::Agents),
        ("agent_updated", Area::Agents),
        ("agent_deleted", Area::Agents),
        ("group_created", Area::Groups),
        ("group_updated", Area::Groups),
        ("group_deleted", Area::Groups),
        ("tag_created", Area::TagsProperties),
        ("event_deleted", Area::Chats),
        ("thread_summary_set", Area::Chats),
    ];

    #[test]
    fn every_action_of_the_issue_belongs_to_its_area() {
        for (action, area) in ISSUE_ACTIONS {
            assert_eq!(area_of(action), Some(area), "{action}");
        }
    }

    #[test]
    fn tools_that_trigger_one_action_agree_on_its_area() {
        // `incoming_event` comes from `send_event` and `upload_file`, `incoming_chat` from
        // `start_chat` and `resume_chat`: the first match must not depend on the order.
        for spec in tools::all() {
            if let Some(action) = spec.webhook {
                assert_eq!(
                    area_of(action),
                    Some(read_area(spec.area)),
                    "{action} from {}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn the_table_lists_only_actions_no_tool_triggers() {
        for (action, _) in UNTRIGGERED {
            let by = tools::all().find(|spec| spec.webhook == Some(*action));
            assert!(
                by.is_none(),
                "{action} is triggered by {:?}",
                by.map(|s| s.name)
            );
        }
    }

    #[test]
    fn an_unknown_action_has_no_area() {
        assert_eq!(area_of("incoming_chats"), None);
        assert_eq!(area_of(""), None);
    }
}
