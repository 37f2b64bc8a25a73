//! Pagination for `list_chats`, `list_threads` and `list_archives`. A `page_id` is an opaque
//! base64 token holding the first page's filters, order and limit, as LiveChat remembers them;
//! `filters`, `limit` and `sort_order` cannot be sent with it.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    error::{LcError, LcResult},
    params::Obj,
};

/// Where a page starts, and what the first page asked for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cursor {
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
    pub offset: usize,
    pub limit: usize,
    pub desc: bool,
    #[serde(default)]
    pub filters: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_events: Option<usize>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        STANDARD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(page_id: &str, method: &str) -> LcResult<Cursor> {
        let invalid =
            || LcError::validation(format!("`page_id` `{page_id}` is invalid or expired"));
        let bytes = STANDARD.decode(page_id).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if !(1..=100).contains(&cursor.limit)
            || cursor.min_events.is_some_and(|n| !(1..=100).contains(&n))
        {
            return Err(invalid());
        }
        if cursor.method != method {
            return Err(LcError::validation(format!(
                "`page_id` belongs to `{}`, not `{method}`",
                cursor.method
            )));
        }
        Ok(cursor)
    }

    /// The request's cursor: decoded from `page_id` (which must come alone), or the first
    /// page's, from `sort_order`, `limit` (1–100, default `default_limit`) and `filters`.
    /// `exclusive` lists further fields not allowed with `page_id`.
    pub fn from_request(
        body: &Obj,
        method: &str,
        default_limit: usize,
        exclusive: &[&str],
    ) -> LcResult<(Cursor, bool)> {
        if let Some(page_id) = body.opt_str("page_id")? {
            for key in ["filters", "limit", "sort_order"].iter().chain(exclusive) {
                if body.has(key) {
                    return Err(LcError::validation(format!(
                        "`{key}` cannot be used together with `page_id`: the first page's filters, limit and order are kept; start again without `page_id` to change them"
                    )));
                }
            }
            return Ok((Cursor::decode(page_id, method)?, true));
        }
        let desc = body.opt_enum("sort_order", &["asc", "desc"])? != Some("asc");
        let limit = body
            .opt_int("limit", 1, 100)?
            .map_or(default_limit, |n| n as usize);
        Ok((
            Cursor {
                method: method.to_string(),
                chat: None,
                offset: 0,
                limit,
                desc,
                filters: body.get("filters").cloned().unwrap_or(Value::Null),
                min_events: None,
            },
            false,
        ))
    }

    /// The page of `total` items this cursor covers, with its neighbours' page IDs.
    pub fn page(&self, total: usize) -> Page {
        let start = self.offset.min(total);
        let end = start.saturating_add(self.limit).min(total);
        self.page_between(start, end, total)
    }

    /// A page covering `start..end`, whatever the limit.
    pub fn page_between(&self, start: usize, end: usize, total: usize) -> Page {
        let at = |offset: usize| {
            let mut c = self.clone();
            c.offset = offset;
            c.encode()
        };
        Page {
            start,
            end,
            next: (end < total).then(|| at(end)),
            previous: (start > 0).then(|| at(start.saturating_sub(self.limit.max(end - start)))),
        }
    }
}

/// A slice of a list and the IDs of the pages around it.
#[derive(Debug)]
pub struct Page {
    pub start: usize,
    pub end: usize,
    pub next: Option<String>,
    pub previous: Option<String>,
}

impl Page {
    /// Adds `next_page_id` and `previous_page_id` to a result, when those pages exist.
    pub fn annotate(&self, out: &mut Value) {
        if let Some(next) = &self.next {
            out["next_page_id"] = Value::String(next.clone());
        }
        if let Some(previous) = &self.previous {
            out["previous_page_id"] = Value::String(previous.clone());
        }
    }
}
