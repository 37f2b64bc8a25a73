//! Customers: `get_customer`, `update_customer`, `ban_customer`, and the Configuration API's
//! `list_customer_bans` and `unban_customer` (v3.6). A ban covers the customer and the IP of
//! their last visit.

use serde_json::{Map, Value, json};

use super::{
    error::{LcError, LcResult},
    ids::is_uuid,
    model::Customer,
    params::Obj,
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
        let email = b.opt_str("email")?;
        if let Some(email) = email
            && !looks_like_email(email)
        {
            return Err(LcError::validation(format!(
                "`email`: `{email}` is not a valid email address"
            )));
        }
        let avatar = b.opt_str("avatar")?;
        let mut session_fields = None;
        if let Some(fields) = b.opt_array("session_fields", 50)? {
            for (i, field) in fields.iter().enumerate() {
                let pair = b.item("session_fields", i, field)?;
                if pair.map().len() != 1 || !pair.map().values().all(Value::is_string) {
                    return Err(LcError::validation(format!(
                        "`session_fields[{i}]` must be one key with a string value, like {{\"order\": \"1042\"}}"
                    )));
                }
            }
            session_fields = Some(fields.clone());
        }
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
