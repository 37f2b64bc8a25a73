//! Property configuration: `register_property` and `publish_property`. A property's namespace
//! is its `owner_client_id`; it holds values only once published with `write` access.

use serde_json::{Value, json};

use super::{
    error::{LcError, LcResult},
    model::{Property, Range},
    params::Obj,
    properties::check_value,
    state::State,
};

const TYPES: &[&str] = &["int", "bool", "string", "tokenized_string"];
const LOCATIONS: &[&str] = &["chat", "thread", "event", "license", "group"];
const RIGHTS: &[&str] = &["read", "write"];

impl State {
    pub(super) fn register_property(&mut self, b: &Obj) -> LcResult<Value> {
        let name = b.req_str("name")?;
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(LcError::validation(format!(
                "`name` may contain lowercase letters, digits and `_` only (got `{name}`)"
            )));
        }
        let owner = b.req_str("owner_client_id")?;
        let kind = b.req_enum("type", TYPES)?;
        let access_obj = b.req_obj("access")?;
        let mut access = std::collections::BTreeMap::new();
        for location in access_obj.map().keys() {
            if !LOCATIONS.contains(&location.as_str()) {
                return Err(LcError::validation(format!(
                    "`access.{location}` is not a property location; use one of: {}",
                    LOCATIONS.join(", ")
                )));
            }
            let users = access_obj.req_obj(location)?;
            users.only(&["agent", "customer"])?;
            let mut rights = std::collections::BTreeMap::new();
            for user in users.map().keys() {
                let list = users.opt_enum_list(user, 2, RIGHTS)?.unwrap_or_default();
                rights.insert(user.clone(), list.into_iter().map(str::to_string).collect());
            }
            access.insert(location.clone(), rights);
        }
        if access.is_empty() {
            return Err(LcError::validation(
                "`access` must name at least one location",
            ));
        }
        let description = b.opt_str("description")?.map(str::to_string);
        let range = match b.opt_obj("range")? {
            None => None,
            Some(r) => {
                if kind != "int" {
                    return Err(LcError::validation(
                        "`range` is allowed only for `int` properties",
                    ));
                }
                r.only(&["from", "to"])?;
                let from = r.req_int("from", i64::from(i32::MIN), i64::from(i32::MAX))?;
                let to = r.req_int("to", i64::from(i32::MIN), i64::from(i32::MAX))?;
                if from > to {
                    return Err(LcError::validation(
                        "`range.from` must not be greater than `range.to`",
                    ));
                }
                Some(Range { from, to })
            }
        };
        let mut property = Property {
            name: name.to_string(),
            owner_client_id: owner.to_string(),
            kind: kind.to_string(),
            access,
            description,
            domain: None,
            range,
            default_value: None,
            public_access: Vec::new(),
        };
        if let Some(domain) = b.opt_array("domain", 1000)? {
            if domain.is_empty() {
                return Err(LcError::validation("`domain` cannot be empty"));
            }
            for (i, value) in domain.iter().enumerate() {
                check_value(&property, value, &format!("domain[{i}]"))?;
            }
            property.domain = Some(domain.clone());
        }
        if let Some(default) = b.get("default_value") {
            check_value(&property, default, "default_value")?;
            property.default_value = Some(default.clone());
        }
        if self
            .lic
            .properties
            .iter()
            .any(|p| p.owner_client_id == owner && p.name == name)
        {
            return Err(LcError::already_exists(format!(
                "Property `{name}` is already registered for client `{owner}`"
            )));
        }
        self.lic.properties.push(property);
        Ok(json!({}))
    }

    pub(super) fn publish_property(&mut self, b: &Obj) -> LcResult<Value> {
        let name = b.req_str("name")?;
        let owner = b.req_str("owner_client_id")?;
        let access = b
            .opt_enum_list("access_type", 2, RIGHTS)?
            .ok_or_else(|| super::params::required("access_type"))?;
        if access.is_empty() {
            return Err(LcError::validation(
                "`access_type` must hold `read`, `write` or both",
            ));
        }
        let property = self
            .lic
            .properties
            .iter_mut()
            .find(|p| p.owner_client_id == owner && p.name == name)
            .ok_or_else(|| {
                LcError::not_found(format!(
                    "Property `{name}` of client `{owner}` not found; register it first"
                ))
            })?;
        property.public_access = access.into_iter().map(str::to_string).collect();
        Ok(json!({}))
    }
}
