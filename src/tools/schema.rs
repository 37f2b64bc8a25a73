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
    settings.inline_subschemas = false;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).unwrap_or(Value::Null);
    share_only_repeats(&mut value);
    drop_null(&mut value);
    tidy(&mut value);
    slim(&mut value, true);
    if let Some(root) = value.as_object_mut() {
        root.remove("$schema");
        root.remove("title");
    }
    value
}

/// Drops what costs context and says nothing the typed request does not check anyway:
/// `format` on integers (`uint32`), `minimum: 0` from unsigned types, a nested object's
/// `additionalProperties: false` (the typed request refuses unknown nested fields, naming
/// them), a map's value schema, and the description of array items when the array has its
/// own.
fn slim(schema: &mut Value, root: bool) {
    match schema {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("integer") {
                if map.get("format").is_some() {
                    map.remove("format");
                }
                if map.get("minimum") == Some(&Value::from(0)) {
                    map.remove("minimum");
                }
            }
            if !root && map.get("additionalProperties") == Some(&Value::Bool(false)) {
                map.remove("additionalProperties");
            }
            // A map's value shape (`namespace → name → value`) is said in its description.
            if !root
                && !map.contains_key("properties")
                && map
                    .get("additionalProperties")
                    .is_some_and(Value::is_object)
            {
                map.remove("additionalProperties");
            }
            if map.contains_key("description")
                && let Some(Value::Object(items)) = map.get_mut("items")
            {
                items.remove("description");
            }
            map.values_mut().for_each(|child| slim(child, false));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| slim(v, false)),
        _ => {}
    }
}

/// Marks a field whose `null` LiveChat documents as a value, so it stays nullable.
const NULLABLE_KEY: &str = "x-nullable";

/// Optional means "not required": schemars also lets every `Option` be `null`, which only
/// costs the model context. Removes `null` from types and enums, and unwraps
/// `anyOf: [X, {"type": "null"}]` into X.
fn drop_null(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            map.values_mut().for_each(drop_null);
            // LiveChat gives `null` a meaning of its own here (`list_chats`' `active`).
            if map.remove(NULLABLE_KEY).is_some() {
                return;
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".to_string(), only);
                }
            }
            if let Some(Value::Array(values)) = map.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
            if let Some(Value::Array(branches)) = map.get("anyOf")
                && branches.len() == 2
                && branches.iter().any(is_null)
            {
                let kept = branches.iter().find(|b| !is_null(b)).cloned();
                map.remove("anyOf");
                if let Some(Value::Object(body)) = kept {
                    for (key, value) in body {
                        map.entry(key).or_insert(value);
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

/// The prefix of a reference to a shared definition.
const DEFS: &str = "#/$defs/";

/// Keeps in `$defs` only the shapes used more than once, each defined once and referenced;
/// a shape used once is written where it is used. Models read a flat schema best, and a
/// repeated one costs its size at every use.
fn share_only_repeats(root: &mut Value) {
    let Some(mut defs) = root
        .as_object_mut()
        .and_then(|r| r.remove("$defs"))
        .and_then(|d| match d {
            Value::Object(map) => Some(map),
            _ => None,
        })
    else {
        return;
    };
    // Inline single-use definitions until none is left; a definition inlined into another
    // can change the counts, so count again after each pass.
    loop {
        let mut counts = std::collections::HashMap::<String, usize>::new();
        count_refs(root, &mut counts);
        for def in defs.values() {
            count_refs(def, &mut counts);
        }
        defs.retain(|name, _| counts.get(name).copied().unwrap_or(0) > 0);
        let single: Vec<String> = defs
            .keys()
            .filter(|name| counts.get(*name) == Some(&1))
            .cloned()
            .collect();
        if single.is_empty() {
            break;
        }
        for name in single {
            if let Some(def) = defs.remove(&name) {
                inline_ref(root, &name, &def);
                for other in defs.values_mut() {
                    inline_ref(other, &name, &def);
                }
            }
        }
    }
    if !defs.is_empty()
        && let Some(map) = root.as_object_mut()
    {
        map.insert("$defs".to_string(), Value::Object(defs));
    }
}

fn count_refs(schema: &Value, counts: &mut std::collections::HashMap<String, usize>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(DEFS))
            {
                *counts.entry(name.to_string()).or_default() += 1;
            }
            map.values().for_each(|v| count_refs(v, counts));
        }
        Value::Array(items) => items.iter().for_each(|v| count_refs(v, counts)),
        _ => {}
    }
}

/// Replaces the reference to `name` with the definition itself, keeping the referring
/// schema's own keywords (its description wins over the definition's).
fn inline_ref(schema: &mut Value, name: &str, def: &Value) {
    match schema {
        Value::Object(map) => {
            let here = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(DEFS))
                == Some(name);
            if here {
                map.remove("$ref");
                if let Value::Object(body) = def {
                    for (key, value) in body {
                        map.entry(key.clone()).or_insert_with(|| value.clone());
                    }
                }
            }
            map.values_mut().for_each(|v| inline_ref(v, name, def));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| inline_ref(v, name, def)),
        _ => {}
    }
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
///
/// Only the top level is kept, each field with its type: the result itself is LiveChat's
/// JSON, which the model reads as it comes; the schema tells clients its outer shape.
pub fn response_schema<T: JsonSchema>() -> Value {
    let mut value = generate::<T>();
    let mut out = Map::new();
    out.insert("type".to_string(), Value::from("object"));
    if let Some(Value::Object(fields)) = value.get_mut("properties") {
        let fields: Map<String, Value> = std::mem::take(fields)
            .into_iter()
            .map(|(name, field)| (name, outer_type(&field)))
            .collect();
        out.insert("properties".to_string(), Value::Object(fields));
    } else if value.get("additionalProperties").is_none() {
        // A struct without fields: the method answers `{}`.
        out.insert("properties".to_string(), Value::Object(Map::new()));
    }
    if let Some(required) = value.get("required") {
        out.insert("required".to_string(), required.clone());
    }
    Value::Object(out)
}

/// A field's type without its inner shape: `{"type": "array", "items": {"type": "object"}}`.
fn outer_type(field: &Value) -> Value {
    let mut out = Map::new();
    if let Some(kind) = field.get("type") {
        out.insert("type".to_string(), kind.clone());
    }
    if let Some(items) = field.get("items") {
        out.insert("items".to_string(), outer_type(items));
    }
    Value::Object(out)
}

/// Marks a top-level field that exists only when the server may read local files
/// (`--upload-dir`, stdio only): `upload_file`'s `path`.
pub const UPLOAD_DIR_KEY: &str = "x-upload-dir";

/// Marks a top-level field that is required when there is no upload directory, and otherwise
/// one of it and the [`UPLOAD_DIR_KEY`] field (`upload_file`'s `content`).
pub const REQUIRED_WITHOUT_UPLOAD_DIR_KEY: &str = "x-required-without-upload-dir";

/// Keeps (`keep`) or drops the top-level fields marked [`UPLOAD_DIR_KEY`], and drops the marks.
/// Without them the schema refuses the field as unknown, as it refuses any other.
pub fn local_fields(mut schema: Value, keep: bool) -> Value {
    let Some(root) = schema.as_object_mut() else {
        return schema;
    };
    let Some(Value::Object(properties)) = root.get_mut("properties") else {
        return schema;
    };
    let marked: Vec<String> = properties
        .iter()
        .filter(|(_, field)| field.get(UPLOAD_DIR_KEY).is_some())
        .map(|(name, _)| name.clone())
        .collect();
    let needed: Vec<String> = properties
        .iter_mut()
        .filter_map(|(name, field)| {
            let field = field.as_object_mut()?;
            field.remove(REQUIRED_WITHOUT_UPLOAD_DIR_KEY)?;
            Some(name.clone())
        })
        .collect();
    for name in &marked {
        if keep {
            if let Some(Value::Object(field)) = properties.get_mut(name) {
                field.remove(UPLOAD_DIR_KEY);
            }
        } else {
            properties.remove(name);
        }
    }
    if !keep && !marked.is_empty() {
        if let Some(Value::Array(required)) = root.get_mut("required") {
            required.retain(|n| !n.as_str().is_some_and(|n| marked.iter().any(|m| m == n)));
        }
        root.insert("additionalProperties".to_string(), Value::Bool(false));
    }
    if !keep && !needed.is_empty() {
        let required = root
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(required) = required {
            required.extend(needed.into_iter().map(Value::String));
        }
    }
    schema
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
            strip_branches(map, version);
            map.remove(VERSIONS_KEY);
            for child in map.values_mut() {
                strip(child, version);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| strip(item, version)),
        _ => {}
    }
}

/// Drops the `oneOf`/`anyOf` branches (enum values, event kinds) of other versions; a single
/// branch left is written in place of the choice.
fn strip_branches(map: &mut Map<String, Value>, version: ApiVersion) {
    for keyword in ["oneOf", "anyOf"] {
        let Some(Value::Array(branches)) = map.get_mut(keyword) else {
            continue;
        };
        branches.retain(|branch| exists_in(branch, version));
        merge_string_values(branches);
        if branches.len() == 1 {
            let only = branches.remove(0);
            map.remove(keyword);
            if let Value::Object(body) = only {
                for (key, value) in body {
                    map.entry(key).or_insert(value);
                }
            }
        }
    }
}

/// Branches that are each a string value or list of values (what versioned enum values
/// become) read as one `enum` once the other version's are gone.
fn merge_string_values(branches: &mut Vec<Value>) {
    let values = |b: &Value| -> Option<Vec<Value>> {
        let map = b.as_object()?;
        if map.get("type").and_then(Value::as_str) != Some("string")
            || map
                .keys()
                .any(|k| !matches!(k.as_str(), "type" | "enum" | "const" | VERSIONS_KEY))
        {
            return None;
        }
        match (map.get("enum"), map.get("const")) {
            (Some(Value::Array(list)), None) => Some(list.clone()),
            (None, Some(one)) => Some(vec![one.clone()]),
            _ => None,
        }
    };
    if branches.len() < 2 {
        return;
    }
    let Some(all) = branches.iter().map(values).collect::<Option<Vec<_>>>() else {
        return;
    };
    let merged: Vec<Value> = all.into_iter().flatten().collect();
    *branches = vec![serde_json::json!({"type": "string", "enum": merged})];
}

/// Removes the fields `version` does not have. Such an object then refuses unknown fields in
/// the schema itself: the typed request knows every version's fields, so it would let the
/// other version's through.
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
    map.insert("additionalProperties".to_string(), Value::Bool(false));
}

/// An [`ArgumentValidator`] compiled at its tool's first call, not at start: compiling every
/// tool's schema cost more than the rest of a session's start (issue 16, cold start).
#[derive(Default)]
pub struct LazyValidator {
    compiled: std::sync::OnceLock<Result<ArgumentValidator, String>>,
}

impl LazyValidator {
    /// The validator of `schema` (called only the first time), or why it does not compile: a
    /// defect of the tool's definition, which a test of every tool rules out.
    pub fn get(&self, schema: impl FnOnce() -> Value) -> Result<&ArgumentValidator, &str> {
        self.compiled
            .get_or_init(|| ArgumentValidator::new(&schema()))
            .as_ref()
            .map_err(String::as_str)
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
        Kind::OneOfNotValid { context } | Kind::AnyOf { context } => {
            describe_choice(&path, error.instance(), context)
        }
        Kind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|field| format!("{} is not a field of this tool", at(&short(field))))
            .collect::<Vec<_>>()
            .join("\n"),
        _ if path.is_empty() => format!("arguments: {}", without_long_value(error)),
        _ => format!("`{path}`: {}", without_long_value(error)),
    }
}

/// The most of a bad value an error quotes: a model that sent a long text needs to know which
/// field and why, not to read its text again.
const QUOTED_VALUE_CHARS: usize = 40;

/// The validator's message, with the value it quotes (at its start, or at its end for `not`)
/// cut to a short prefix and its size.
fn without_long_value(error: &jsonschema::ValidationError<'_>) -> String {
    let message = error.to_string();
    let value = error.instance().to_string();
    if value.chars().count() <= QUOTED_VALUE_CHARS {
        return message;
    }
    let head: String = value.chars().take(QUOTED_VALUE_CHARS).collect();
    message.replace(value.as_str(), &format!("{head}… ({} bytes)", value.len()))
}

/// A value that fits none of a field's shapes (an event of no known kind, a filter value of no
/// allowed type). Names the shape that came closest and what is wrong with it: the branch
/// whose `type` matched the value's, else the one with the fewest problems.
fn describe_choice(
    path: &str,
    instance: &Value,
    branches: &[Vec<jsonschema::ValidationError<'static>>],
) -> String {
    use jsonschema::error::ValidationErrorKind as Kind;
    let field = if path.is_empty() { "arguments" } else { path };
    // A branch whose `type` constant differs is another kind of value, not a near miss.
    let kind_mismatch = |errors: &Vec<jsonschema::ValidationError<'static>>| {
        errors.iter().any(|e| {
            matches!(e.kind(), Kind::Constant { .. })
                && e.instance_path().as_str().ends_with("/type")
        })
    };
    let closest = branches
        .iter()
        .min_by_key(|errors| (kind_mismatch(errors), errors.len()));
    let Some(errors) = closest else {
        return format!("`{field}` fits none of its allowed shapes");
    };
    if kind_mismatch(errors) {
        let kinds: Vec<String> = branches
            .iter()
            .flatten()
            .filter_map(|e| match e.kind() {
                Kind::Constant { expected_value }
                    if e.instance_path().as_str().ends_with("/type") =>
                {
                    expected_value.as_str().map(|k| format!("`{k}`"))
                }
                _ => None,
            })
            .collect();
        return format!("`{field}.type` must be one of {}", kinds.join(", "));
    }
    let shape = match instance.get("type").and_then(Value::as_str) {
        Some(kind) => format!("a `{}` ", short(kind)),
        None => String::new(),
    };
    let problems: Vec<String> = errors.iter().map(describe).collect();
    format!(
        "`{field}` does not fit {shape}shape: {}",
        problems.join("; ")
    )
}

/// At most 40 characters of a value or field name the caller sent, for messages.
pub(crate) fn short(text: &str) -> String {
    let head: String = text.chars().take(40).collect();
    if head.len() < text.len() {
        format!("{head}…")
    } else {
        head
    }
}

/// `/filters/group_ids/0` → `filters.group_ids[0]`. A field name the caller made up is cut
/// like a value: it may be as long as one.
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
            out.push_str(&short(&segment));
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
    fn a_long_bad_value_is_quoted_only_by_its_start() {
        let v = ArgumentValidator::new(&json!({
            "type": "object",
            "properties": {"text": {"type": "string", "maxLength": 10}}
        }))
        .unwrap();
        let long = "x".repeat(900_000);
        let err = v.check(&json!({ "text": long })).unwrap_err();
        assert!(err.len() < 200, "{} bytes: {}", err.len(), &err[..200]);
        assert!(err.starts_with("`text`: \"xxxx"), "{err}");
        assert!(
            err.contains("900002 bytes") && err.contains("longer than 10"),
            "{err}"
        );
    }

    #[test]
    fn a_failed_choice_names_the_closest_shape() {
        let v = ArgumentValidator::new(&json!({
            "type": "object",
            "properties": {"event": {"oneOf": [
                {"type": "object", "properties": {"type": {"const": "message"}, "text": {"type": "string"}}, "required": ["type", "text"]},
                {"type": "object", "properties": {"type": {"const": "file"}, "url": {"type": "string"}}, "required": ["type", "url"]}
            ]}}
        }))
        .unwrap();
        let err = v
            .check(&json!({"event": {"type": "file", "text": "hi"}}))
            .unwrap_err();
        assert_eq!(
            err,
            "`event` does not fit a `file` shape: `event.url` is required"
        );
        let err = v.check(&json!({"event": {"type": "gif"}})).unwrap_err();
        assert_eq!(err, "`event.type` must be one of `message`, `file`");
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

    #[test]
    fn made_up_field_names_and_values_quoted_at_the_end_are_cut() {
        // Found by tests/fuzz.rs: a 161-character unknown field came back whole, in the field
        // list and in the value a `not` rule quotes at the end of its message.
        let long = "k".repeat(161);
        let v = ArgumentValidator::new(&json!({
            "type": "object",
            "properties": {"event": {"type": "object", "not": {"required": ["elements"]}}},
            "additionalProperties": false
        }))
        .unwrap();
        let err = v
            .check(&json!({ long.clone(): 1, "event": {"elements": { long.clone(): null }} }))
            .unwrap_err();
        assert!(!err.contains(&long), "{err}");
        assert!(
            err.contains(&format!("`{}…` is not a field", &long[..40])),
            "{err}"
        );
        assert!(err.contains("is not allowed for {\"elements\""), "{err}");
    }
}
