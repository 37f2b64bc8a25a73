//! The filters of the list methods: `{exists}`, `{values}` or `{exclude_values}` on a list of
//! values, and the same per property (`namespace → name → filter`).

use serde_json::Value;

use super::{
    error::{LcError, LcResult},
    model::Props,
    params::Obj,
};

/// A filter on the values a chat or thread has (its agents, tags, event types, ...).
#[derive(Clone, Debug, Default)]
pub struct ValuesFilter {
    pub exists: Option<bool>,
    pub values: Option<Vec<Value>>,
    pub exclude: Option<Vec<Value>>,
    pub every: bool,
}

impl ValuesFilter {
    /// Reads a filter that takes one of `exists`, `values` or `exclude_values`, plus
    /// `require_every_value` and the `extra` keys (checked by the caller).
    pub fn parse(f: &Obj, extra: &[&str]) -> LcResult<ValuesFilter> {
        let mut allowed = vec!["exists", "values", "exclude_values", "require_every_value"];
        allowed.extend_from_slice(extra);
        f.only(&allowed)?;
        let kinds = ["exists", "values", "exclude_values"]
            .iter()
            .filter(|k| f.has(k))
            .count();
        if kinds > 1 {
            return Err(LcError::validation(format!(
                "`{}`: use only one of `exists`, `values` or `exclude_values`",
                f.path()
            )));
        }
        Ok(ValuesFilter {
            exists: f.opt_bool("exists")?,
            values: f.opt_array("values", 1000)?.cloned(),
            exclude: f.opt_array("exclude_values", 1000)?.cloned(),
            every: f.opt_bool("require_every_value")?.unwrap_or(false),
        })
    }

    /// Whether a record having `present` passes.
    pub fn matches(&self, present: &[Value]) -> bool {
        if let Some(exists) = self.exists
            && present.is_empty() == exists
        {
            return false;
        }
        if let Some(values) = &self.values {
            let hit = |v: &Value| present.contains(v);
            let ok = if self.every {
                values.iter().all(hit)
            } else {
                values.iter().any(hit)
            };
            if !ok {
                return false;
            }
        }
        if let Some(exclude) = &self.exclude {
            let hit = |v: &Value| present.contains(v);
            let excluded = if self.every {
                !exclude.is_empty() && exclude.iter().all(hit)
            } else {
                exclude.iter().any(hit)
            };
            if excluded {
                return false;
            }
        }
        true
    }
}

/// Property filters: namespace → name → filter.
#[derive(Clone, Debug, Default)]
pub struct PropertyFilter {
    rules: Vec<(String, String, ValuesFilter)>,
}

impl PropertyFilter {
    pub fn parse(f: &Obj) -> LcResult<PropertyFilter> {
        let mut rules = Vec::new();
        for ns in f.map().keys() {
            let names = f.req_obj(ns)?;
            for name in names.map().keys() {
                let rule = ValuesFilter::parse(&names.req_obj(name)?, &[])?;
                rules.push((ns.clone(), name.clone(), rule));
            }
        }
        Ok(PropertyFilter { rules })
    }

    /// Whether a record with `props` (the first map that has the property wins) passes.
    pub fn matches(&self, props: &[&Props]) -> bool {
        self.rules.iter().all(|(ns, name, rule)| {
            let value = props
                .iter()
                .find_map(|p| p.get(ns).and_then(|values| values.get(name)));
            let present: Vec<Value> = value.cloned().into_iter().collect();
            rule.matches(&present)
        })
    }
}

/// Strings as JSON values, for [`ValuesFilter::matches`].
pub fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<Value> {
    items
        .into_iter()
        .map(|s| Value::String(s.to_string()))
        .collect()
}
