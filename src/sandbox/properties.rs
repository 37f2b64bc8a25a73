//! Property values: a value can only be set on a registered property that is published for
//! writing, writable by agents in that location (chat, thread, event), and of the right type,
//! domain and range.

use serde_json::Value;

use super::{
    error::{LcError, LcResult},
    model::{Property, Props},
    params::Obj,
    state::State,
};

impl State {
    /// Checks `{namespace: {name: value}}` for `location` and returns it.
    pub(super) fn property_values(
        &self,
        value: &Value,
        field: &str,
        location: &str,
    ) -> LcResult<Props> {
        let namespaces = Obj::at(value, field.to_string())?;
        let mut props = Props::new();
        for (ns, names) in namespaces.map() {
            let names = Obj::at(names, format!("{field}.{ns}"))?;
            for (name, value) in names.map() {
                let at = format!("{field}.{ns}.{name}");
                let property = self.writable_property(ns, name, &at, location)?;
                check_value(property, value, &at)?;
                props
                    .entry(ns.clone())
                    .or_default()
                    .insert(name.clone(), value.clone());
            }
        }
        Ok(props)
    }

    /// Checks `{namespace: [name, ...]}` for `location` and returns the pairs.
    pub(super) fn property_names(
        &self,
        value: &Value,
        field: &str,
        location: &str,
    ) -> LcResult<Vec<(String, String)>> {
        let namespaces = Obj::at(value, field.to_string())?;
        let mut pairs = Vec::new();
        for ns in namespaces.map().keys() {
            let names = namespaces.opt_str_list(ns, 1000)?.unwrap_or_default();
            for name in names {
                let at = format!("{field}.{ns}.{name}");
                self.writable_property(ns, name, &at, location)?;
                pairs.push((ns.clone(), name.to_string()));
            }
        }
        Ok(pairs)
    }

    fn writable_property(
        &self,
        ns: &str,
        name: &str,
        at: &str,
        location: &str,
    ) -> LcResult<&Property> {
        let property = self
            .lic
            .properties
            .iter()
            .find(|p| p.owner_client_id == ns && p.name == name)
            .ok_or_else(|| {
                LcError::validation(format!(
                    "`{at}`: property `{name}` is not registered in namespace `{ns}`; register it with `register_property` and publish it with `publish_property`"
                ))
            })?;
        if !property.public_access.iter().any(|a| a == "write") {
            return Err(LcError::validation(format!(
                "`{at}`: property `{ns}.{name}` is not published for writing; publish it with `publish_property` and `access_type: [\"read\", \"write\"]`"
            )));
        }
        let agent_can_write = property
            .access
            .get(location)
            .and_then(|users| users.get("agent"))
            .is_some_and(|rights| rights.iter().any(|r| r == "write"));
        if !agent_can_write {
            return Err(LcError::validation(format!(
                "`{at}`: property `{ns}.{name}` cannot be written by agents in the `{location}` location"
            )));
        }
        Ok(property)
    }
}

/// A value must fit the property's type, domain and range.
pub fn check_value(p: &Property, value: &Value, at: &str) -> LcResult<()> {
    let fits = match p.kind.as_str() {
        "int" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "bool" => value.is_boolean(),
        _ => value.is_string(),
    };
    if !fits {
        let kind = match p.kind.as_str() {
            "int" => "an integer (int32)",
            "bool" => "a boolean",
            _ => "a string",
        };
        return Err(LcError::validation(format!("`{at}` must be {kind}")));
    }
    if let Some(domain) = &p.domain
        && !domain.contains(value)
    {
        return Err(LcError::validation(format!(
            "`{at}`: {value} is not in the property's domain {}",
            Value::Array(domain.clone())
        )));
    }
    if let (Some(range), Some(n)) = (&p.range, value.as_i64())
        && (n < range.from || n > range.to)
    {
        return Err(LcError::validation(format!(
            "`{at}` must be between {} and {}",
            range.from, range.to
        )));
    }
    Ok(())
}

/// Merges `update` into `props`.
pub fn merge(props: &mut Props, update: Props) {
    for (ns, values) in update {
        props.entry(ns).or_default().extend(values);
    }
}

/// Removes `names` from `props`, and namespaces left empty.
pub fn remove(props: &mut Props, names: &[(String, String)]) {
    for (ns, name) in names {
        if let Some(values) = props.get_mut(ns) {
            values.remove(name);
            if values.is_empty() {
                props.remove(ns);
            }
        }
    }
}
