//! Reading request bodies the way LiveChat validates them: every failure is a `validation`
//! error whose message names the field by its full path (`chat.users[1].type`).
//!
//! A JSON `null` counts as absent, as LiveChat treats the SDK's nested `null`s.

use serde_json::{Map, Value};

use super::error::{LcError, LcResult};

/// A JSON object in a request, with its path for messages.
#[derive(Clone, Debug)]
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

fn type_error(field: &str, expected: &str) -> LcError {
    LcError::validation(format!("`{field}` must be {expected}"))
}

/// A `validation` error for a missing required field.
pub fn required(field: &str) -> LcError {
    LcError::validation(format!("`{field}` is required"))
}

impl<'a> Obj<'a> {
    /// The request body, which must be an object.
    pub fn root(body: &'a Value) -> LcResult<Obj<'a>> {
        match body {
            Value::Object(map) => Ok(Obj {
                map,
                path: String::new(),
            }),
            _ => Err(LcError::validation(
                "The request body must be a JSON object",
            )),
        }
    }

    /// A nested value that must be an object; `path` is its full name.
    pub fn at(value: &'a Value, path: String) -> LcResult<Obj<'a>> {
        match value {
            Value::Object(map) => Ok(Obj { map, path }),
            _ => Err(type_error(&path, "an object")),
        }
    }

    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The full name of `key` in this object.
    pub fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The value of `key`, `None` when absent or `null`.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Non-null keys present, in the body's order.
    pub fn keys(&self) -> impl Iterator<Item = &'a String> {
        self.map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k)
    }

    /// Rejects keys other than `allowed`.
    pub fn only(&self, allowed: &[&str]) -> LcResult<()> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(LcError::validation(format!(
                "`{}` is not a valid field{}",
                self.field(key),
                if allowed.is_empty() {
                    String::new()
                } else {
                    format!("; expected one of: {}", allowed.join(", "))
                }
            ))),
        }
    }

    pub fn req_str(&self, key: &str) -> LcResult<&'a str> {
        match self.opt_str(key)? {
            None => Err(required(&self.field(key))),
            Some(s) if s.trim().is_empty() => Err(LcError::validation(format!(
                "`{}` cannot be empty",
                self.field(key)
            ))),
            Some(s) => Ok(s),
        }
    }

    pub fn opt_str(&self, key: &str) -> LcResult<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(type_error(&self.field(key), "a string")),
        }
    }

    pub fn opt_bool(&self, key: &str) -> LcResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(type_error(&self.field(key), "a boolean")),
        }
    }

    pub fn req_bool(&self, key: &str) -> LcResult<bool> {
        self.opt_bool(key)?
            .ok_or_else(|| required(&self.field(key)))
    }

    /// An integer between `min` and `max`.
    pub fn opt_int(&self, key: &str, min: i64, max: i64) -> LcResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => int_in(value, &self.field(key), min, max).map(Some),
        }
    }

    pub fn req_int(&self, key: &str, min: i64, max: i64) -> LcResult<i64> {
        self.opt_int(key, min, max)?
            .ok_or_else(|| required(&self.field(key)))
    }

    /// A string that must be one of `allowed`.
    pub fn opt_enum(&self, key: &str, allowed: &[&str]) -> LcResult<Option<&'a str>> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) if allowed.contains(&s) => Ok(Some(s)),
            Some(s) => Err(LcError::validation(format!(
                "`{}` must be one of: {} (got `{s}`)",
                self.field(key),
                allowed.join(", ")
            ))),
        }
    }

    pub fn req_enum(&self, key: &str, allowed: &[&str]) -> LcResult<&'a str> {
        self.opt_enum(key, allowed)?
            .ok_or_else(|| required(&self.field(key)))
    }

    pub fn opt_obj(&self, key: &str) -> LcResult<Option<Obj<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => Obj::at(value, self.field(key)).map(Some),
        }
    }

    pub fn req_obj(&self, key: &str) -> LcResult<Obj<'a>> {
        self.opt_obj(key)?.ok_or_else(|| required(&self.field(key)))
    }

    /// An array of at most `max` items.
    pub fn opt_array(&self, key: &str, max: usize) -> LcResult<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) if items.len() <= max => Ok(Some(items)),
            Some(Value::Array(_)) => Err(LcError::validation(format!(
                "`{}` can have at most {max} items",
                self.field(key)
            ))),
            Some(_) => Err(type_error(&self.field(key), "an array")),
        }
    }

    pub fn req_array(&self, key: &str, max: usize) -> LcResult<&'a Vec<Value>> {
        self.opt_array(key, max)?
            .ok_or_else(|| required(&self.field(key)))
    }

    /// The `index`th item of the array `key`, which must be an object.
    pub fn item(&self, key: &str, index: usize, value: &'a Value) -> LcResult<Obj<'a>> {
        Obj::at(value, format!("{}[{index}]", self.field(key)))
    }

    /// An array of strings.
    pub fn opt_str_list(&self, key: &str, max: usize) -> LcResult<Option<Vec<&'a str>>> {
        let Some(items) = self.opt_array(key, max)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .ok_or_else(|| type_error(&format!("{}[{i}]", self.field(key)), "a string"))
            })
            .collect::<LcResult<Vec<_>>>()
            .map(Some)
    }

    /// An array of strings, each one of `allowed`.
    pub fn opt_enum_list(
        &self,
        key: &str,
        max: usize,
        allowed: &[&str],
    ) -> LcResult<Option<Vec<&'a str>>> {
        let Some(items) = self.opt_str_list(key, max)? else {
            return Ok(None);
        };
        for (i, item) in items.iter().enumerate() {
            if !allowed.contains(item) {
                return Err(LcError::validation(format!(
                    "`{}[{i}]` must be one of: {} (got `{item}`)",
                    self.field(key),
                    allowed.join(", ")
                )));
            }
        }
        Ok(Some(items))
    }

    /// An array of integers, each between `min` and `max`.
    pub fn opt_int_list(
        &self,
        key: &str,
        max_items: usize,
        min: i64,
        max: i64,
    ) -> LcResult<Option<Vec<i64>>> {
        let Some(items) = self.opt_array(key, max_items)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| int_in(v, &format!("{}[{i}]", self.field(key)), min, max))
            .collect::<LcResult<Vec<_>>>()
            .map(Some)
    }

    /// Group IDs: unsigned integers.
    pub fn opt_group_ids(&self, key: &str, max_items: usize) -> LcResult<Option<Vec<u32>>> {
        Ok(self
            .opt_int_list(key, max_items, 0, i64::from(u32::MAX))?
            .map(|ids| {
                ids.into_iter()
                    .filter_map(|id| u32::try_from(id).ok())
                    .collect()
            }))
    }
}

/// An integer JSON value between `min` and `max`.
pub fn int_in(value: &Value, field: &str, min: i64, max: i64) -> LcResult<i64> {
    let n = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                .map(|f| f as i64)
        }),
        _ => None,
    }
    .ok_or_else(|| type_error(field, "an integer"))?;
    if n < min || n > max {
        return Err(LcError::validation(if max == i64::MAX {
            format!("`{field}` must be at least {min}")
        } else {
            format!("`{field}` must be between {min} and {max}")
        }));
    }
    Ok(n)
}

/// An RFC 3339 date-time, normalized to the sandbox's UTC form.
pub fn date_time(text: &str, field: &str) -> LcResult<String> {
    super::time::normalize(text).ok_or_else(|| {
        LcError::validation(format!(
            "`{field}` must be an RFC 3339 date-time like `2026-03-02T09:30:00.000000+00:00`"
        ))
    })
}
