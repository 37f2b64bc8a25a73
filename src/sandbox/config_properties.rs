//! Property configuration: `register_property`, `publish_property`, `list_properties` and
//! `unregister_property`, and the license's and groups' values (`list_license_properties`,
//! `list_groups_properties`). A property's namespace is its `owner_client_id`; it holds values
//! only once published with `write` access, and can be unregistered only while private.
//!
//! The sandbox token belongs to no app, so its own namespace holds nothing: it reads the values
//! of properties published for `read`, and only with a scope that reaches other namespaces
//! (`properties.license.value--all:ro`; `--my` shows its own, none).

use serde_json::{Map, Value, json};

use super::{
    error::{LcError, LcResult},
    model::{Property, Props, Range},
    params::{self, Obj},
    properties::check_value,
    state::State,
};
use crate::scopes::Requirement;

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

    pub(super) fn list_properties(&mut self, b: &Obj) -> LcResult<Value> {
        let owner = b.req_str("owner_client_id")?;
        let mut out = Map::new();
        for p in self
            .lic
            .properties
            .iter()
            .filter(|p| p.owner_client_id == owner)
        {
            let mut o = Map::new();
            o.insert("type".into(), json!(p.kind));
            o.insert(
                "description".into(),
                json!(p.description.as_deref().unwrap_or_default()),
            );
            o.insert("access".into(), json!(p.access));
            if let Some(domain) = &p.domain {
                o.insert("domain".into(), json!(domain));
            }
            if let Some(range) = &p.range {
                o.insert("range".into(), json!({"from": range.from, "to": range.to}));
            }
            if let Some(default) = &p.default_value {
                o.insert("default_value".into(), default.clone());
            }
            if !p.public_access.is_empty() {
                o.insert("public_access".into(), json!(p.public_access));
            }
            out.insert(p.name.clone(), Value::Object(o));
        }
        Ok(Value::Object(out))
    }

    pub(super) fn unregister_property(&mut self, b: &Obj) -> LcResult<Value> {
        let name = b.req_str("name")?;
        let owner = b.req_str("owner_client_id")?;
        let index = self
            .lic
            .properties
            .iter()
            .position(|p| p.owner_client_id == owner && p.name == name)
            .ok_or_else(|| {
                LcError::not_found(format!("Property `{name}` of client `{owner}` not found"))
            })?;
        if !self.lic.properties[index].public_access.is_empty() {
            return Err(LcError::validation(format!(
                "Property `{name}` is published; a published property cannot be unregistered"
            )));
        }
        self.lic.properties.remove(index);
        let pair = [(owner.to_string(), name.to_string())];
        super::properties::remove(&mut self.lic.license_properties, &pair);
        for g in &mut self.lic.groups {
            super::properties::remove(&mut g.properties, &pair);
        }
        Ok(json!({}))
    }

    pub(super) fn list_license_properties(&mut self, b: &Obj) -> LcResult<Value> {
        let filter = ValueFilter::parse(b)?;
        if !self.reads_other_namespaces() {
            return Ok(json!({}));
        }
        Ok(self.values_in("license", &self.lic.license_properties, &filter))
    }

    pub(super) fn list_groups_properties(&mut self, b: &Obj) -> LcResult<Value> {
        let ids = b
            .opt_group_ids("group_ids", 1000)?
            .ok_or_else(|| params::required("group_ids"))?;
        if let Some(id) = ids.iter().find(|id| !self.group_exists(**id)) {
            return Err(LcError::group_not_found(format!("Group `{id}` not found")));
        }
        let filter = ValueFilter::parse(b)?;
        let groups = self
            .lic
            .groups
            .iter()
            .filter(|g| ids.is_empty() || ids.contains(&g.id));
        let out: Vec<Value> = groups
            .map(|g| {
                json!({
                    "id": g.id,
                    "properties": self.values_in("group", &g.properties, &filter),
                })
            })
            .collect();
        Ok(Value::Array(out))
    }

    /// Whether the token reads properties outside its own (empty) namespace.
    fn reads_other_namespaces(&self) -> bool {
        self.require(
            Requirement::any_of(&["properties.license.value--all:ro"]),
            "",
        )
        .is_ok()
    }

    /// `namespace → name → value` of the properties readable in `location`: the value set in
    /// `set`, else the property's default.
    fn values_in(&self, location: &str, set: &Props, filter: &ValueFilter) -> Value {
        let mut out: Props = Props::new();
        for p in &self.lic.properties {
            let readable =
                p.public_access.iter().any(|a| a == "read") && p.access.contains_key(location);
            if !readable || !filter.keeps(p) {
                continue;
            }
            let value = set
                .get(&p.owner_client_id)
                .and_then(|values| values.get(&p.name))
                .or(p.default_value.as_ref());
            if let Some(value) = value {
                out.entry(p.owner_client_id.clone())
                    .or_default()
                    .insert(p.name.clone(), value.clone());
            }
        }
        json!(out)
    }
}

/// `namespace` and `name_prefix`, both optional.
struct ValueFilter {
    namespace: Option<String>,
    prefix: Option<String>,
}

impl ValueFilter {
    fn parse(b: &Obj) -> LcResult<ValueFilter> {
        Ok(ValueFilter {
            namespace: b.opt_str("namespace")?.map(str::to_string),
            prefix: b.opt_str("name_prefix")?.map(str::to_string),
        })
    }

    fn keeps(&self, p: &Property) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| ns == p.owner_client_id)
            && self
                .prefix
                .as_deref()
                .is_none_or(|prefix| p.name.starts_with(prefix))
    }
}
