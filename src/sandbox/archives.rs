//! `list_archives`: one entry per thread (a chat may appear several times), searched by text,
//! time, groups, properties, agents, tags, event types, countries and, in v3.6, chat IDs,
//! customer and agent types. The sandbox has no sales, goals, greetings or forms (surveys):
//! filters asking for them to exist match nothing, the others match everything.

use serde_json::{Value, json};

use super::{
    chat_reads::TimeRange,
    error::{LcError, LcResult},
    filters::{PropertyFilter, ValuesFilter, strings},
    model::{Chat, Thread},
    paging::{Cursor, Page},
    params::Obj,
    state::{Mode, State},
};
use crate::version::ApiVersion;

const BOTH: &[&str] = &[
    "query",
    "from",
    "to",
    "thread_ids",
    "group_ids",
    "properties",
    "agents",
    "tags",
    "sales",
    "goals",
    "forms",
    "event_types",
    "greetings",
    "agent_response",
    "customer_countries",
];
const V36_ONLY: &[&str] = &["chat_ids", "agent_types", "customer_id", "customer_email"];
const AGENT_TYPES: &[&str] = &["human", "chatbot", "ai_agent"];

#[derive(Default)]
struct ArchiveFilter {
    query: Option<String>,
    range: Option<TimeRange>,
    thread_ids: Option<Vec<String>>,
    chat_ids: Option<Vec<String>>,
    group_ids: Option<Vec<u32>>,
    properties: Option<PropertyFilter>,
    agents: Option<ValuesFilter>,
    tags: Option<ValuesFilter>,
    event_types: Option<ValuesFilter>,
    countries: Option<ValuesFilter>,
    /// Sales, goals, greetings, forms: the sandbox has none of them.
    absent: Vec<ValuesFilter>,
    agent_response: Option<(ValuesFilter, bool, Option<ValuesFilter>)>,
    agent_types: Option<(Vec<String>, Vec<String>, Vec<String>)>,
    customer_id: Option<String>,
    customer_email: Option<String>,
}

impl ArchiveFilter {
    fn parse(filters: &Value, v: ApiVersion) -> LcResult<ArchiveFilter> {
        let mut out = ArchiveFilter::default();
        if filters.is_null() {
            return Ok(out);
        }
        let f = Obj::at(filters, "filters".into())?;
        for key in f.map().keys() {
            if V36_ONLY.contains(&key.as_str()) && v == ApiVersion::V3_5 {
                return Err(LcError::validation(format!(
                    "`filters.{key}` is a v3.6 filter"
                )));
            }
        }
        let mut allowed = BOTH.to_vec();
        allowed.extend_from_slice(V36_ONLY);
        f.only(&allowed)?;
        if f.has("thread_ids") && f.keys().count() > 1 {
            return Err(LcError::validation(
                "`filters.thread_ids` cannot be combined with other filters",
            ));
        }
        out.query = f.opt_str("query")?.map(str::to_lowercase);
        if f.has("from") || f.has("to") {
            out.range = Some(TimeRange::parse(&f)?);
        }
        out.thread_ids = f
            .opt_str_list("thread_ids", 20)?
            .map(|l| l.iter().map(|s| s.to_string()).collect());
        out.chat_ids = f
            .opt_str_list("chat_ids", 1000)?
            .map(|l| l.iter().map(|s| s.to_string()).collect());
        out.group_ids = f.opt_group_ids("group_ids", 200)?;
        out.properties = f
            .opt_obj("properties")?
            .map(|p| PropertyFilter::parse(&p))
            .transpose()?;
        out.agents = f
            .opt_obj("agents")?
            .map(|a| ValuesFilter::parse(&a, &[]))
            .transpose()?;
        out.tags = f
            .opt_obj("tags")?
            .map(|a| ValuesFilter::parse(&a, &[]))
            .transpose()?;
        out.event_types = f
            .opt_obj("event_types")?
            .map(|a| {
                a.only(&["values", "exclude_values", "require_every_value"])?;
                ValuesFilter::parse(&a, &[])
            })
            .transpose()?;
        out.countries = f
            .opt_obj("customer_countries")?
            .map(|a| ValuesFilter::parse(&a, &[]))
            .transpose()?;
        for key in ["sales", "goals"] {
            if let Some(a) = f.opt_obj(key)? {
                out.absent.push(ValuesFilter::parse(&a, &[])?);
            }
        }
        if let Some(g) = f.opt_obj("greetings")? {
            g.only(&["from", "to", "exists", "values", "exclude_values", "groups"])?;
            TimeRange::parse(&g)?;
            g.opt_int_list("values", 1000, 0, i64::MAX)?;
            g.opt_int_list("exclude_values", 1000, 0, i64::MAX)?;
            groups_filter(&g)?;
            out.absent
                .push(ValuesFilter::parse(&g, &["from", "to", "groups"])?);
        }
        for (i, form) in f.opt_array("forms", 100)?.into_iter().flatten().enumerate() {
            let form = f.item("forms", i, form)?;
            form.only(&[
                "type",
                "from",
                "to",
                "exists",
                "values",
                "exclude_values",
                "groups",
            ])?;
            form.opt_enum("type", &["pre_chat", "post_chat"])?;
            TimeRange::parse(&form)?;
            form.opt_str_list("values", 1000)?;
            form.opt_str_list("exclude_values", 1000)?;
            groups_filter(&form)?;
            out.absent.push(ValuesFilter::parse(
                &form,
                &["type", "from", "to", "groups"],
            )?);
        }
        if let Some(r) = f.opt_obj("agent_response")? {
            r.only(&["exists", "first", "agents", "groups"])?;
            let base = ValuesFilter::parse(&r, &["first", "agents", "groups"])?;
            let first = r.opt_bool("first")?.unwrap_or(false);
            let agents = r
                .opt_obj("agents")?
                .map(|a| {
                    a.only(&["values", "exclude_values"])?;
                    ValuesFilter::parse(&a, &[])
                })
                .transpose()?;
            groups_filter(&r)?;
            out.agent_response = Some((base, first, agents));
        }
        if let Some(t) = f.opt_obj("agent_types")? {
            t.only(&["all_values", "any_values", "exclude_values"])?;
            let list = |key: &str| -> LcResult<Vec<String>> {
                Ok(t.opt_enum_list(key, 3, AGENT_TYPES)?
                    .unwrap_or_default()
                    .into_iter()
                    .map(str::to_string)
                    .collect())
            };
            let lists = (
                list("all_values")?,
                list("any_values")?,
                list("exclude_values")?,
            );
            let mut seen: Vec<&String> = Vec::new();
            for kind in lists.0.iter().chain(&lists.1).chain(&lists.2) {
                if seen.contains(&kind) {
                    return Err(LcError::validation(format!(
                        "`filters.agent_types`: `{kind}` may appear only once across `all_values`, `any_values` and `exclude_values`"
                    )));
                }
                seen.push(kind);
            }
            out.agent_types = Some(lists);
        }
        out.customer_id = f.opt_str("customer_id")?.map(str::to_string);
        out.customer_email = f.opt_str("customer_email")?.map(str::to_lowercase);
        Ok(out)
    }
}

impl State {
    pub(super) fn list_archives(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let (cursor, _) = Cursor::from_request(b, "list_archives", 10, &[])?;
        if let Some(h) = b.opt_obj("highlights")? {
            h.only(&["pre_tag", "post_tag"])?;
            h.opt_str("pre_tag")?;
            h.opt_str("post_tag")?;
        }
        let filter = ArchiveFilter::parse(&cursor.filters, v)?;
        let mut found: Vec<(usize, usize)> = Vec::new();
        for (ci, chat) in self.lic.chats.iter().enumerate() {
            if !self.can_reach(chat, Mode::Read) {
                continue;
            }
            for (ti, thread) in chat.threads.iter().enumerate() {
                if self.archive_matches(&filter, chat, thread) {
                    found.push((ci, ti));
                }
            }
        }
        let created =
            |&(ci, ti): &(usize, usize)| self.lic.chats[ci].threads[ti].created_at.clone();
        found.sort_by_key(created);
        if cursor.desc {
            found.reverse();
        }
        let total = found.len();
        let page = if filter.thread_ids.is_some() {
            Page {
                start: 0,
                end: total,
                next: None,
                previous: None,
            }
        } else {
            cursor.page(total)
        };
        let chats: Vec<Value> = found[page.start..page.end]
            .iter()
            .map(|&(ci, ti)| self.chat_view(&self.lic.chats[ci], Some(ti), v))
            .collect();
        let mut out = json!({"chats": chats, "found_chats": total});
        page.annotate(&mut out);
        Ok(out)
    }

    fn archive_matches(&self, f: &ArchiveFilter, chat: &Chat, t: &Thread) -> bool {
        let access = t.access.as_ref().unwrap_or(&chat.access);
        let agents: Vec<&str> = t
            .user_ids
            .iter()
            .filter(|id| self.agent(id).is_some())
            .map(String::as_str)
            .collect();
        let customer = chat
            .customer()
            .and_then(|u| self.lic.customers.iter().find(|c| c.id == u.id));
        let country = customer
            .and_then(|c| c.visit.as_ref())
            .and_then(|v| v.pointer("/geolocation/country_code"))
            .and_then(Value::as_str);
        let event_types: Vec<&str> = t
            .events
            .iter()
            .filter_map(|e| e.get("type").and_then(Value::as_str))
            .collect();
        let in_list = |list: &Option<Vec<String>>, id: &str| {
            list.as_ref().is_none_or(|l| l.iter().any(|x| x == id))
        };
        in_list(&f.thread_ids, &t.id)
            && in_list(&f.chat_ids, &chat.id)
            && f.query
                .as_ref()
                .is_none_or(|q| thread_text(t).contains(q.as_str()))
            && f.range.as_ref().is_none_or(|r| r.contains(&t.created_at))
            && f.group_ids
                .as_ref()
                .is_none_or(|ids| access.group_ids.iter().any(|g| ids.contains(g)))
            && f.properties
                .as_ref()
                .is_none_or(|p| p.matches(&[&t.properties, &chat.properties]))
            && f.agents
                .as_ref()
                .is_none_or(|a| a.matches(&strings(agents.iter().copied())))
            && f.tags
                .as_ref()
                .is_none_or(|a| a.matches(&strings(t.tags.iter().map(String::as_str))))
            && f.event_types
                .as_ref()
                .is_none_or(|a| a.matches(&strings(event_types.iter().copied())))
            && f.countries
                .as_ref()
                .is_none_or(|a| a.matches(&strings(country)))
            && f.absent.iter().all(|a| a.matches(&[]))
            && f.agent_response
                .as_ref()
                .is_none_or(|r| self.agent_response_matches(r, t))
            && f.agent_types
                .as_ref()
                .is_none_or(|types| self.agent_types_match(types, &agents))
            && f.customer_id
                .as_ref()
                .is_none_or(|id| customer.is_some_and(|c| &c.id == id))
            && f.customer_email.as_ref().is_none_or(|email| {
                customer
                    .and_then(|c| c.email.as_ref())
                    .is_some_and(|e| e.to_lowercase() == *email)
            })
    }

    fn agent_response_matches(
        &self,
        (base, first, agents): &(ValuesFilter, bool, Option<ValuesFilter>),
        t: &Thread,
    ) -> bool {
        let mut authors: Vec<&str> = t
            .events
            .iter()
            .filter(|e| e.get("type").and_then(Value::as_str) == Some("message"))
            .filter_map(|e| e.get("author_id").and_then(Value::as_str))
            .filter(|a| self.agent(a).is_some())
            .collect();
        if *first {
            authors.truncate(1);
        }
        let present = strings(authors.iter().copied());
        base.matches(&present) && agents.as_ref().is_none_or(|a| a.matches(&present))
    }

    fn agent_types_match(
        &self,
        (all, any, exclude): &(Vec<String>, Vec<String>, Vec<String>),
        agents: &[&str],
    ) -> bool {
        let kinds: Vec<&str> = agents
            .iter()
            .filter_map(|id| self.agent(id))
            .map(|a| if a.bot { "chatbot" } else { "human" })
            .collect();
        let has = |k: &String| kinds.contains(&k.as_str());
        all.iter().all(has) && (any.is_empty() || any.iter().any(has)) && !exclude.iter().any(has)
    }
}

/// The `groups: {values | exclude_values}` part of the greetings, forms and agent response
/// filters.
fn groups_filter(f: &Obj) -> LcResult<()> {
    if let Some(g) = f.opt_obj("groups")? {
        g.only(&["values", "exclude_values"])?;
        g.opt_group_ids("values", 200)?;
        g.opt_group_ids("exclude_values", 200)?;
    }
    Ok(())
}

/// The searchable text of a thread's events, lowercased.
fn thread_text(t: &Thread) -> String {
    let mut text = String::new();
    for e in &t.events {
        for key in ["text", "name", "url"] {
            if let Some(s) = e.get(key).and_then(Value::as_str) {
                text.push_str(s);
                text.push('\n');
            }
        }
        for element in e
            .get("elements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for key in ["title", "subtitle"] {
                if let Some(s) = element.get(key).and_then(Value::as_str) {
                    text.push_str(s);
                    text.push('\n');
                }
            }
        }
    }
    text.to_lowercase()
}
