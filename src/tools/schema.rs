//! JSON Schemas from the request and response types, per API version, and argument
//! validation against exactly the schema the client was shown.
//!
//! Fields that exist only in some versions carry `x-versions` (see `common::since_3_6`-style
//! attributes in the area files); `for_version` drops the others and removes the mark.

use schemars::{JsonSchema, generate::SchemaSettings};
use serde_json::{Map, Value};

use crate::version::ApiVersion;

/// The extension keyword that lists the versions a field exists in.
pub const VERSIONS_KEY: &str = "x-versions";

fn generate<T: JsonSchema>() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    // Inline every sub-type: models read a flat schema more reliably than `$ref`s.
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).unwrap_or(Value::Null);
    tidy(&mut value);
    if let Some(root) = value.as_object_mut() {
        root.remove("$schema");
        root.remove("title");
    }
    value
}

/// Doc comments arrive with their source line breaks; a description reads as one paragraph
/// (blank lines still separate paragraphs). Also spells the always-true schema `true` (what
/// schemars writes for a free-form value) as `{}`, which every client accepts.
fn tidy(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for keyword in ["items", "additionalProperties"] {
                if map.get(keyword) == Some(&Value::Bool(true)) {
                    map.insert(keyword.to_string(), Value::Object(Map::new()));
                }
            }
            if let Some(Value::String(text)) = map.get_mut("description") {
                *text = text
                    .split("\n\n")
                    .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("\n\n");
            }
            map.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// The request type's schema with every version's fields and their `x-versions` marks.
pub fn request_schema<T: JsonSchema>() -> Value {
    generate::<T>()
}

/// The response type's schema, without the root description (the tool has one).
pub fn response_schema<T: JsonSchema>() -> Value {
    let mut value = generate::<T>();
    if let Some(root) = value.as_object_mut() {
        root.remove("description");
    }
    value
}

/// Drops the fields that `version` does not have, and every `x-versions` mark. The root
/// description is removed too: it is the tool's description, shown once.
pub fn for_version(mut schema: Value, version: ApiVersion) -> Value {
    strip(&mut schema, version);
    if let Some(root) = schema.as_object_mut() {
        root.remove("description");
    }
    schema
}

fn exists_in(schema: &Value, version: ApiVersion) -> bool {
    match schema.get(VERSIONS_KEY).and_then(Value::as_array) {
        Some(versions) => versions
            .iter()
            .any(|v| v.as_str() == Some(version.as_str())),
        None => true,
    }
}

fn strip(schema: &mut Value, version: ApiVersion) {
    match schema {
        Value::Object(map) => {
            strip_properties(map, version);
            map.remove(VERSIONS_KEY);
            for child in map.values_mut() {
                strip(child, version);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| strip(item, version)),
        _ => {}
    }
}

fn strip_properties(map: &mut Map<String, Value>, version: ApiVersion) {
    let Some(Value::Object(properties)) = map.get_mut("properties") else {
        return;
    };
    let gone: Vec<String> = properties
        .iter()
        .filter(|(_, field)| !exists_in(field, version))
        .map(|(name, _)| name.clone())
        .collect();
    if gone.is_empty() {
        return;
    }
    properties.retain(|name, _| !gone.contains(name));
    if let Some(Value::Array(required)) = map.get_mut("required") {
        required.retain(|name| !name.as_str().is_some_and(|n| gone.iter().any(|g| g == n)));
    }
}

/// Checks tool arguments against a compiled input schema.
pub struct ArgumentValidator {
    validator: jsonschema::Validator,
}

impl ArgumentValidator {
    pub fn new(input_schema: &Value) -> Result<ArgumentValidator, String> {
        jsonschema::draft202012::new(input_schema)
            .map(|validator| ArgumentValidator { validator })
            .map_err(|e| e.to_string())
    }

    /// `Ok` when the arguments fit; otherwise one line per problem, each naming the field.
    pub fn check(&self, arguments: &Value) -> Result<(), String> {
        let mut problems: Vec<String> = self
            .validator
            .iter_errors(arguments)
            .map(|error| describe(&error))
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        problems.sort();
        problems.dedup();
        Err(problems.join("\n"))
    }
}

fn describe(error: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind as Kind;
    let path = field_path(error.instance_path().as_str());
    let at = |field: &str| {
        if path.is_empty() {
            format!("`{field}`")
        } else {
            format!("`{path}.{field}`")
        }
    };
    match error.kind() {
        Kind::Required { property } => {
            format!("{} is required", at(property.as_str().unwrap_or("?")))
        }
        Kind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|field| format!("{} is not a field of this tool", at(field)))
            .collect::<Vec<_>>()
            .join("\n"),
        _ if path.is_empty() => format!("arguments: {error}"),
        _ => format!("`{path}`: {error}"),
    }
}

/// `/filters/group_ids/0` → `filters.group_ids[0]`.
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() && !out.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strips_fields_of_other_versions() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "new": {"type": "string", "x-versions": ["3.6"]},
                "nested": {"type": "object", "properties": {
                    "old": {"type": "boolean", "x-versions": ["3.5"]}
                }, "required": ["old"]}
            },
            "required": ["a", "new"]
        });
        let v35 = for_version(schema.clone(), ApiVersion::V3_5);
        assert_eq!(v35["required"], json!(["a"]));
        assert!(v35["properties"].get("new").is_none());
        assert_eq!(v35["properties"]["nested"]["required"], json!(["old"]));
        let v36 = for_version(schema, ApiVersion::V3_6);
        assert!(
            v36["properties"]["nested"]["properties"]
                .get("old")
                .is_none()
        );
        assert_eq!(v36["properties"]["nested"]["required"], json!([]));
        assert!(!v36.to_string().contains("x-versions"));
    }

    #[test]
    fn errors_name_the_field() {
        let v = ArgumentValidator::new(&json!({
            "type": "object",
            "properties": {
                "chat_id": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                "filters": {"type": "object", "properties": {
                    "group_ids": {"type": "array", "items": {"type": "integer"}}
                }, "additionalProperties": false}
            },
            "required": ["chat_id"],
            "additionalProperties": false
        }))
        .unwrap();
        let err = v
            .check(
                &json!({"limit": 500, "bogus": 1, "filters": {"group_ids": ["x"], "nope": true}}),
            )
            .unwrap_err();
        assert!(err.contains("`chat_id` is required"), "{err}");
        assert!(err.contains("`bogus` is not a field"), "{err}");
        assert!(err.contains("`filters.nope` is not a field"), "{err}");
        assert!(err.contains("`filters.group_ids[0]`"), "{err}");
        assert!(err.contains("`limit`") && err.contains("100"), "{err}");
        assert!(v.check(&json!({"chat_id": "X", "limit": 5})).is_ok());
    }
}
