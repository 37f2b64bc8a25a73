//! Customers: `get_customer`, `update_customer`, `ban_customer`, `list_customers` and
//! `create_customer` (v3.5 only; v3.6 removed them), and the Configuration API's
//! `list_customer_bans` and `unban_customer` (v3.6). A ban covers the customer and the IP of
//! their last visit.

use serde_json::{Map, Value, json};

use super::{
    error::{LcError, LcResult},
    ids::is_uuid,
    model::Customer,
    paging::Cursor,
    params::{self, Obj},
    state::State,
    time,
};
use crate::version::ApiVersion;

impl State {
    fn customer_index(&self, id: &str) -> LcResult<usize> {
        self.lic
            .customers
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| LcError::not_found(format!("Customer `{id}` not found")))
    }

    pub(super) fn get_customer(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let index = self.customer_index(id)?;
        Ok(self.customer_record(&self.lic.customers[index], v, true))
    }

    pub(super) fn update_customer(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        if !is_uuid(id) {
            return Err(LcError::validation(format!(
                "`id` must be a UUID v4 (got `{id}`)"
            )));
        }
        let name = b.opt_str("name")?;
        let email = email(b)?;
        let avatar = b.opt_str("avatar")?;
        let session_fields = session_fields(b)?;
        let (mut phone, mut omnichannel, mut address) = (None, None, None);
        if v == ApiVersion::V3_6 {
            phone = b.opt_str("phone_number")?;
            if let Some(p) = phone
                && !is_e164(p)
            {
                return Err(LcError::validation(format!(
                    "`phone_number` must be in E.164 format like `+14155552671` (got `{p}`)"
                )));
            }
            if let Some(o) = b.opt_obj("omnichannel")? {
                o.only(&["fbmessenger", "twilio"])?;
                if let Some(fb) = o.opt_obj("fbmessenger")? {
                    fb.only(&[
                        "id",
                        "name",
                        "first_name",
                        "last_name",
                        "profile_pic",
                        "gender",
                        "locale",
                        "is_verified_user",
                    ])?;
                    fb.req_str("id")?;
                    for key in [
                        "name",
                        "first_name",
                        "last_name",
                        "profile_pic",
                        "gender",
                        "locale",
                    ] {
                        fb.opt_str(key)?;
                    }
                    fb.opt_bool("is_verified_user")?;
                }
                if let Some(twilio) = o.opt_obj("twilio")? {
                    twilio.only(&["phone_number"])?;
                    twilio.req_str("phone_number")?;
                }
                omnichannel = Some(Value::Object(o.map().clone()));
            }
            if let Some(a) = b.opt_obj("address")? {
                let keys = ["address", "city", "country", "state", "postal_code"];
                a.only(&keys)?;
                for key in keys {
                    a.opt_str(key)?;
                }
                address = Some(Value::Object(a.map().clone()));
            }
        }
        let index = self.customer_index(id)?;
        let c = &mut self.lic.customers[index];
        if let Some(name) = name {
            c.name = Some(name.to_string());
        }
        if let Some(email) = email {
            c.email = Some(email.to_string());
        }
        if let Some(avatar) = avatar {
            c.avatar = Some(avatar.to_string());
        }
        if let Some(fields) = session_fields {
            c.session_fields = fields;
        }
        if let Some(phone) = phone {
            c.phone_number = Some(phone.to_string());
        }
        if omnichannel.is_some() {
            c.omnichannel = omnichannel;
        }
        if address.is_some() {
            c.address = address;
        }
        Ok(json!({}))
    }

    pub(super) fn ban_customer(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let ban = b.req_obj("ban")?;
        ban.only(&["days"])?;
        let days = ban.req_int("days", 1, 36_500)?;
        let index = self.customer_index(id)?;
        let now = self.tick();
        let until = time::parse_rfc3339(&now)
            .map(|now| time::format_micros(now + days * 86_400_000_000))
            .unwrap_or_default();
        let requester = self.requester().to_string();
        let c = &mut self.lic.customers[index];
        c.banned_until = Some(until);
        c.banned_at = Some(now);
        c.banned_by = Some(requester);
        let agent = self.name_of(self.requester());
        let active: Vec<usize> = (0..self.lic.chats.len())
            .filter(|&c| {
                let chat = &self.lic.chats[c];
                chat.is_active() && chat.customer().is_some_and(|u| u.id == id)
            })
            .collect();
        for chat in active {
            self.system_message(
                chat,
                "customer_banned",
                format!("Chat archived because customer was banned by {agent} for {days} day(s)"),
                json!({"agent": agent, "duration": days.to_string()}),
            );
            if let Some(t) = self.lic.chats[chat].threads.last_mut() {
                t.active = false;
            }
        }
        Ok(json!({}))
    }

    /// The customers whose ban has not ended yet.
    fn banned(&self) -> impl Iterator<Item = (usize, &Customer)> {
        let now = self.now();
        self.lic
            .customers
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.banned_until.as_ref().is_some_and(|u| *u > now))
    }

    pub(super) fn list_customer_bans(&mut self) -> LcResult<Value> {
        let bans: Vec<Value> = self
            .banned()
            .map(|(_, c)| {
                let mut out = Map::new();
                if let Some(ip) = visit_ip(c) {
                    out.insert("ip".into(), json!(ip));
                }
                out.insert("customer_id".into(), json!(c.id));
                if let Some(agent) = &c.banned_by {
                    out.insert("agent_id".into(), json!(agent));
                }
                if let Some(at) = &c.banned_at {
                    out.insert("created_at".into(), json!(at));
                }
                out.insert("expires_at".into(), json!(c.banned_until));
                Value::Object(out)
            })
            .collect();
        Ok(Value::Array(bans))
    }

    /// Lifts the ban of one customer, or of every customer banned with the IP.
    pub(super) fn unban_customer(&mut self, b: &Obj) -> LcResult<Value> {
        let ip = b.opt_str("ip")?;
        let customer = b.opt_str("customer_id")?;
        let hits: Vec<usize> = match (ip, customer) {
            (Some(ip), None) => self
                .banned()
                .filter(|(_, c)| visit_ip(c) == Some(ip))
                .map(|(i, _)| i)
                .collect(),
            (None, Some(id)) => self
                .banned()
                .filter(|(_, c)| c.id == id)
                .map(|(i, _)| i)
                .collect(),
            _ => {
                return Err(LcError::validation(
                    "Exactly one of `ip` and `customer_id` is required",
                ));
            }
        };
        if hits.is_empty() {
            return Err(LcError::not_found(match (ip, customer) {
                (Some(ip), _) => format!("No active ban for IP `{ip}`"),
                (_, id) => format!("No active ban for customer `{}`", id.unwrap_or_default()),
            }));
        }
        for i in hits {
            let c = &mut self.lic.customers[i];
            c.banned_until = None;
            c.banned_at = None;
            c.banned_by = None;
        }
        Ok(json!({}))
    }
}

impl State {
    /// `list_customers` (v3.5): the license's customers, newest first by default, a page at a
    /// time. The first page's `filters` and `sort_by` travel in its `page_id`; the docs forbid
    /// only `filters`, `limit` and `sort_order` beside a `page_id`, so a `sort_by` there is
    /// checked and then ignored.
    pub(super) fn list_customers(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let (mut cursor, paged) = Cursor::from_request(b, "list_customers", 10, &[])?;
        let sort_by = b
            .opt_enum("sort_by", CUSTOMER_SORTS)?
            .unwrap_or("created_at");
        if !paged {
            cursor.filters = json!({"filters": cursor.filters, "sort_by": sort_by});
        }
        let sort_by = cursor.filters["sort_by"]
            .as_str()
            .filter(|s| CUSTOMER_SORTS.contains(s))
            .unwrap_or("created_at")
            .to_string();
        let filters = CustomerFilters::parse(&cursor.filters["filters"])?;
        let mut rows: Vec<(Value, Value)> = Vec::new();
        for c in &self.lic.customers {
            let record = self.customer_record(c, v, false);
            let groups = self.customer_chat_groups(&c.id);
            if filters.matches(c, &record, &groups) {
                let key = match sort_by.as_str() {
                    "threads_count" | "visits_count" => record["statistics"][&sort_by].clone(),
                    "agent_last_event" | "customer_last_event" => {
                        record[format!("{sort_by}_created_at")].clone()
                    }
                    _ => Value::Null,
                };
                rows.push((key, record));
            }
        }
        rows.sort_by(|(ka, a), (kb, b)| {
            sort_key(ka)
                .cmp(&sort_key(kb))
                .then_with(|| a["created_at"].as_str().cmp(&b["created_at"].as_str()))
        });
        if cursor.desc {
            rows.reverse();
        }
        let page = cursor.page(rows.len());
        let customers: Vec<Value> = rows[page.start..page.end]
            .iter()
            .map(|(_, r)| r.clone())
            .collect();
        let mut out = json!({"customers": customers, "total_customers": rows.len()});
        page.annotate(&mut out);
        Ok(out)
    }

    /// The groups of the chats a customer is in.
    fn customer_chat_groups(&self, customer: &str) -> Vec<u32> {
        self.lic
            .chats
            .iter()
            .filter(|chat| chat.customer().is_some_and(|u| u.id == customer))
            .flat_map(|chat| chat.access.group_ids.iter().copied())
            .collect()
    }

    /// `create_customer` (v3.5): a new customer with no visit and no chats.
    pub(super) fn create_customer(&mut self, b: &Obj) -> LcResult<Value> {
        let name = b.opt_str("name")?.map(str::to_string);
        let email = email(b)?.map(str::to_string);
        let avatar = b.opt_str("avatar")?.map(str::to_string);
        let session_fields = session_fields(b)?.unwrap_or_default();
        let id = self.ids.uuid();
        let created_at = self.tick();
        self.lic.customers.push(Customer {
            id: id.clone(),
            name,
            email,
            avatar,
            phone_number: None,
            created_at,
            session_fields,
            visit: None,
            omnichannel: None,
            address: None,
            visits_count: 0,
            banned_until: None,
            banned_at: None,
            banned_by: None,
        });
        Ok(json!({ "customer_id": id }))
    }
}

const CUSTOMER_SORTS: &[&str] = &[
    "created_at",
    "threads_count",
    "visits_count",
    "agent_last_event",
    "customer_last_event",
];

/// Sorts counts as numbers and times as text; a customer without the value goes first.
fn sort_key(v: &Value) -> (u8, i64, String) {
    match v {
        Value::Number(n) => (1, n.as_i64().unwrap_or_default(), String::new()),
        Value::String(s) => (1, 0, s.clone()),
        _ => (0, 0, String::new()),
    }
}

/// `email`, which must look like an address when given.
fn email<'a>(b: &Obj<'a>) -> LcResult<Option<&'a str>> {
    let email = b.opt_str("email")?;
    if let Some(email) = email
        && !looks_like_email(email)
    {
        return Err(LcError::validation(format!(
            "`email`: `{email}` is not a valid email address"
        )));
    }
    Ok(email)
}

/// `session_fields`: at most 50 one-key objects with a string value.
fn session_fields(b: &Obj) -> LcResult<Option<Vec<Value>>> {
    let Some(fields) = b.opt_array("session_fields", 50)? else {
        return Ok(None);
    };
    for (i, field) in fields.iter().enumerate() {
        let pair = b.item("session_fields", i, field)?;
        if pair.map().len() != 1 || !pair.map().values().all(Value::is_string) {
            return Err(LcError::validation(format!(
                "`session_fields[{i}]` must be one key with a string value, like {{\"order\": \"1042\"}}"
            )));
        }
    }
    Ok(Some(fields.clone()))
}

/// One `<string_filter_type>` or `<integer_filter_type>`: match any of, or none of.
struct Among {
    exclude: bool,
    values: Vec<Value>,
}

impl Among {
    fn parse(f: &Obj, ints: bool) -> LcResult<Among> {
        f.only(&["values", "exclude_values"])?;
        let key = match (f.has("values"), f.has("exclude_values")) {
            (true, false) => "values",
            (false, true) => "exclude_values",
            _ => {
                return Err(LcError::validation(format!(
                    "`{}`: exactly one of `values` and `exclude_values` is allowed",
                    f.path()
                )));
            }
        };
        let values = if ints {
            f.opt_group_ids(key, 40)?
                .unwrap_or_default()
                .into_iter()
                .map(Value::from)
                .collect()
        } else {
            f.opt_str_list(key, 1000)?
                .unwrap_or_default()
                .into_iter()
                .map(Value::from)
                .collect()
        };
        Ok(Among {
            exclude: key == "exclude_values",
            values,
        })
    }

    /// Whether one of `have` is among the values (or, to exclude, none is).
    fn matches(&self, have: &[Value]) -> bool {
        have.iter().any(|h| self.values.contains(h)) != self.exclude
    }
}

/// One `<range_filter_type>` or `<date_range_filter_type>`.
struct Bounds(Vec<(&'static str, Value)>);

impl Bounds {
    const OPS: [&'static str; 5] = ["lt", "lte", "gt", "gte", "eq"];

    fn parse(f: &Obj, dates: bool) -> LcResult<Bounds> {
        f.only(&Self::OPS)?;
        let mut out = Vec::new();
        for op in Self::OPS {
            if dates {
                if let Some(t) = f.opt_str(op)? {
                    out.push((op, json!(params::date_time(t, &f.field(op))?)));
                }
            } else if let Some(n) = f.opt_int(op, i64::MIN, i64::MAX)? {
                out.push((op, json!(n)));
            }
        }
        Ok(Bounds(out))
    }

    /// Whether `value` meets every bound; a missing value meets none.
    fn matches(&self, value: &Value) -> bool {
        self.0.iter().all(|(op, bound)| {
            let ord = match (value, bound) {
                (Value::Number(a), Value::Number(b)) => a.as_i64().cmp(&b.as_i64()),
                (Value::String(a), Value::String(b)) => a.cmp(b),
                _ => return false,
            };
            match *op {
                "lt" => ord.is_lt(),
                "lte" => ord.is_le(),
                "gt" => ord.is_gt(),
                "gte" => ord.is_ge(),
                _ => ord.is_eq(),
            }
        })
    }
}

/// The `filters` of `list_customers`.
#[derive(Default)]
struct CustomerFilters {
    strings: Vec<(&'static str, Among)>,
    groups: Option<Among>,
    counts: Vec<(&'static str, Bounds)>,
    dates: Vec<(&'static str, Bounds)>,
    without_chats: bool,
}

impl CustomerFilters {
    const STRINGS: [&'static str; 4] = ["country", "email", "name", "customer_id"];
    const COUNTS: [&'static str; 3] = ["chats_count", "threads_count", "visits_count"];
    const DATES: [&'static str; 3] = [
        "created_at",
        "agent_last_event_created_at",
        "customer_last_event_created_at",
    ];

    fn parse(filters: &Value) -> LcResult<CustomerFilters> {
        if filters.is_null() {
            return Ok(CustomerFilters::default());
        }
        let f = Obj::at(filters, "filters".to_string())?;
        let mut allowed: Vec<&str> = Vec::new();
        allowed.extend(Self::STRINGS);
        allowed.extend(Self::COUNTS);
        allowed.extend(Self::DATES);
        allowed.extend(["chat_group_ids", "include_customers_without_chats"]);
        f.only(&allowed)?;
        let mut out = CustomerFilters {
            without_chats: f
                .opt_bool("include_customers_without_chats")?
                .unwrap_or(false),
            ..CustomerFilters::default()
        };
        for key in Self::STRINGS {
            if let Some(o) = f.opt_obj(key)? {
                out.strings.push((key, Among::parse(&o, false)?));
            }
        }
        if let Some(o) = f.opt_obj("chat_group_ids")? {
            out.groups = Some(Among::parse(&o, true)?);
        }
        for key in Self::COUNTS {
            if let Some(o) = f.opt_obj(key)? {
                out.counts.push((key, Bounds::parse(&o, false)?));
            }
        }
        for key in Self::DATES {
            if let Some(o) = f.opt_obj(key)? {
                out.dates.push((key, Bounds::parse(&o, true)?));
            }
        }
        Ok(out)
    }

    fn matches(&self, c: &Customer, record: &Value, groups: &[u32]) -> bool {
        let chats = record["statistics"]["chats_count"].as_u64().unwrap_or(0);
        if chats == 0 && !self.without_chats {
            return false;
        }
        let strings = self.strings.iter().all(|(key, among)| {
            let have: Vec<Value> = match *key {
                "country" => c
                    .visit
                    .as_ref()
                    .and_then(|v| v.get("geolocation"))
                    .map(|g| {
                        ["country_code", "country"]
                            .iter()
                            .filter_map(|k| g.get(*k).cloned())
                            .collect()
                    })
                    .unwrap_or_default(),
                "customer_id" => vec![json!(c.id)],
                other => record.get(other).cloned().into_iter().collect(),
            };
            among.matches(&have)
        });
        let groups = self.groups.as_ref().is_none_or(|among| {
            among.matches(&groups.iter().map(|g| json!(g)).collect::<Vec<_>>())
        });
        let counts = self
            .counts
            .iter()
            .all(|(key, bounds)| bounds.matches(&record["statistics"][*key]));
        let dates = self
            .dates
            .iter()
            .all(|(key, bounds)| bounds.matches(&record[*key]));
        strings && groups && counts && dates
    }
}

/// The IP of a customer's last visit, if known.
fn visit_ip(c: &Customer) -> Option<&str> {
    c.visit.as_ref()?.get("ip")?.as_str()
}

fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn is_e164(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0')
    })
}
