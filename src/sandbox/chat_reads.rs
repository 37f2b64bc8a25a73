//! Reading chats: `list_chats`, `list_threads` and `get_chat`.

use serde_json::{Value, json};

use super::{
    error::{LcError, LcResult},
    filters::PropertyFilter,
    model::Chat,
    paging::Cursor,
    params::{Obj, date_time},
    state::{Mode, State},
};
use crate::version::ApiVersion;

/// `list_chats` filters.
#[derive(Default)]
struct ChatFilter {
    active: Option<bool>,
    include_active: bool,
    include_without_threads: bool,
    group_ids: Option<Vec<u32>>,
    properties: Option<PropertyFilter>,
}

impl ChatFilter {
    fn parse(filters: &Value, v: ApiVersion) -> LcResult<ChatFilter> {
        let mut out = ChatFilter {
            include_active: true,
            include_without_threads: true,
            ..ChatFilter::default()
        };
        if filters.is_null() {
            return Ok(out);
        }
        let f = Obj::at(filters, "filters".into())?;
        match v {
            ApiVersion::V3_5 if f.map().contains_key("active") => {
                return Err(LcError::validation(
                    "`filters.active` is a v3.6 filter; v3.5 uses `filters.include_active`",
                ));
            }
            ApiVersion::V3_6 if f.map().contains_key("include_active") => {
                return Err(LcError::validation(
                    "`filters.include_active` is a v3.5 filter; v3.6 uses `filters.active` (true, false or null)",
                ));
            }
            _ => {}
        }
        f.only(&[
            "include_active",
            "active",
            "include_chats_without_threads",
            "group_ids",
            "properties",
        ])?;
        out.active = f.opt_bool("active")?;
        out.include_active = f.opt_bool("include_active")?.unwrap_or(true);
        out.include_without_threads = f.opt_bool("include_chats_without_threads")?.unwrap_or(true);
        out.group_ids = f.opt_group_ids("group_ids", 200)?;
        out.properties = f
            .opt_obj("properties")?
            .map(|p| PropertyFilter::parse(&p))
            .transpose()?;
        Ok(out)
    }

    fn matches(&self, chat: &Chat) -> bool {
        let active = chat.is_active();
        (self.include_active || !active)
            && self.active.is_none_or(|want| want == active)
            && (self.include_without_threads || !chat.threads.is_empty())
            && self
                .group_ids
                .as_ref()
                .is_none_or(|ids| chat.access.group_ids.iter().any(|g| ids.contains(g)))
            && self
                .properties
                .as_ref()
                .is_none_or(|p| p.matches(&[&chat.properties]))
    }
}

/// A thread time window.
pub(super) struct TimeRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl TimeRange {
    pub fn parse(f: &Obj) -> LcResult<TimeRange> {
        let from = f
            .opt_str("from")?
            .map(|t| date_time(t, &f.field("from")))
            .transpose()?;
        let to = f
            .opt_str("to")?
            .map(|t| date_time(t, &f.field("to")))
            .transpose()?;
        Ok(TimeRange { from, to })
    }

    pub fn contains(&self, at: &str) -> bool {
        self.from.as_deref().is_none_or(|from| at >= from)
            && self.to.as_deref().is_none_or(|to| at <= to)
    }
}

/// When a chat last changed: its last event, or its last thread's start.
fn last_activity(chat: &Chat) -> &str {
    chat.threads
        .last()
        .map(|t| {
            t.events
                .last()
                .and_then(|e| e.get("created_at"))
                .and_then(Value::as_str)
                .unwrap_or(&t.created_at)
        })
        .unwrap_or("")
}

impl State {
    pub(super) fn list_chats(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let (cursor, _) = Cursor::from_request(b, "list_chats", 10, &[])?;
        let filter = ChatFilter::parse(&cursor.filters, v)?;
        let mut chats: Vec<&Chat> = self
            .lic
            .chats
            .iter()
            .filter(|c| self.can_reach(c, Mode::Read) && filter.matches(c))
            .collect();
        chats.sort_by(|a, b| (last_activity(a), &a.id).cmp(&(last_activity(b), &b.id)));
        if cursor.desc {
            chats.reverse();
        }
        let page = cursor.page(chats.len());
        let summaries: Vec<Value> = chats[page.start..page.end]
            .iter()
            .map(|c| self.chat_summary(c, v))
            .collect();
        let mut out = json!({"chats_summary": summaries, "found_chats": chats.len()});
        page.annotate(&mut out);
        Ok(out)
    }

    pub(super) fn list_threads(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        if b.has("min_events_count") && (b.has("limit") || b.has("filters")) {
            return Err(LcError::validation(
                "`min_events_count` cannot be used together with `limit` or `filters`",
            ));
        }
        let index = self.reachable_chat(chat_id, Mode::Read)?;
        let (mut cursor, from_page) =
            Cursor::from_request(b, "list_threads", 3, &["min_events_count"])?;
        if from_page {
            if cursor.chat.as_deref() != Some(chat_id) {
                return Err(LcError::validation(format!(
                    "`page_id` belongs to another chat's threads, not `{chat_id}`"
                )));
            }
        } else {
            cursor.chat = Some(chat_id.to_string());
            cursor.min_events = b.opt_int("min_events_count", 1, 100)?.map(|n| n as usize);
        }
        let range = match &cursor.filters {
            Value::Null => TimeRange {
                from: None,
                to: None,
            },
            filters => {
                let f = Obj::at(filters, "filters".into())?;
                f.only(&["from", "to"])?;
                TimeRange::parse(&f)?
            }
        };
        let chat = &self.lic.chats[index];
        let mut threads: Vec<usize> = (0..chat.threads.len())
            .filter(|&i| range.contains(&chat.threads[i].created_at))
            .collect();
        if cursor.desc {
            threads.reverse();
        }
        let total = threads.len();
        let page = match cursor.min_events {
            Some(wanted) => {
                let start = cursor.offset.min(total);
                let mut end = start;
                let mut events = 0;
                while end < total && events < wanted {
                    events += chat.threads[threads[end]].events.len();
                    end += 1;
                }
                cursor.page_between(start, end, total)
            }
            None => cursor.page(total),
        };
        let items: Vec<Value> = threads[page.start..page.end]
            .iter()
            .map(|&i| self.thread_view(chat, i, true, v))
            .collect();
        let mut out = json!({"threads": items, "found_threads": total});
        page.annotate(&mut out);
        Ok(out)
    }

    pub(super) fn get_chat(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        let thread_id = b.opt_str("thread_id")?;
        let index = self.reachable_chat(chat_id, Mode::Read)?;
        let thread = match thread_id {
            Some(t) => Some(self.thread_index(index, t)?),
            None => self.lic.chats[index].threads.len().checked_sub(1),
        };
        Ok(self.chat_view(&self.lic.chats[index], thread, v))
    }
}
