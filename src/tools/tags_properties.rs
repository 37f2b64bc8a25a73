//! Tags and properties: manage the tags agents put on threads, and register and publish the
//! custom properties an application stores on chats, threads, events, groups and the license.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::{
    Area, ToolSpec,
    common::{Empty, Items, Record},
    record::Names,
};

const AREA: Area = Area::TagsProperties;
const TAG_READ_SCOPES: &[&str] = &["tags--all:ro", "tags--groups:ro"];
const TAG_WRITE_SCOPES: &[&str] = &["tags--all:rw", "tags--groups:rw"];
const PROPERTY_SCOPES: &[&str] = &["properties.configuration:rw"];

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::write::<CreateTag, Empty>(AREA, "create_tag", "Create a tag")
        .scopes(TAG_WRITE_SCOPES)
        .names(&[Names::Tag("name")])
        .said("created", "create", "{tag}")
        .webhook("tag_created"),
    ToolSpec::read::<ListTags, Items<Record>>(AREA, "list_tags", "List tags")
        .scopes(TAG_READ_SCOPES)
        .names(&[])
        .said("listed", "list", "tags"),
    ToolSpec::write::<UpdateTag, Empty>(AREA, "update_tag", "Change a tag's groups")
        .idempotent()
        .scopes(TAG_WRITE_SCOPES)
        .names(&[Names::Tag("name")])
        .said("changed", "change", "the groups of {tag}")
        .webhook("tag_updated"),
    ToolSpec::write::<DeleteTag, Empty>(AREA, "delete_tag", "Delete a tag")
        .destructive()
        .idempotent()
        .scopes(TAG_WRITE_SCOPES)
        .names(&[Names::Tag("name")])
        .said("deleted", "delete", "{tag}")
        .webhook("tag_deleted"),
    ToolSpec::write::<RegisterProperty, Empty>(AREA, "register_property", "Register a property")
        .scopes(PROPERTY_SCOPES)
        .names(&[Names::Property("name")])
        .said("registered", "register", "{property}"),
    ToolSpec::write::<PublishProperty, Empty>(AREA, "publish_property", "Publish a property")
        .idempotent()
        .scopes(PROPERTY_SCOPES)
        .names(&[Names::Property("name")])
        .said("published", "publish", "{property}"),
];

/// Creates a tag that agents can put on threads, optionally limited to some groups. A tag
/// whose name differs only in letter case from an existing one counts as the same tag.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTag {
    /// The tag's name.
    pub name: String,
    /// Integer IDs of the groups that can use the tag; may be empty.
    pub group_ids: Option<Vec<u32>>,
}

/// Lists the tags on the license as `items`, each with its name, groups, author and creation
/// time; optionally only the tags of some groups.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTags {
    /// Which tags to list; leave out for all of them.
    pub filters: Option<ListTagsFilters>,
}

/// Filters for `list_tags`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTagsFilters {
    /// Only tags assigned to these groups (integer group IDs).
    pub group_ids: Vec<u32>,
}

/// Sets which groups can use an existing tag. Tags cannot be renamed; `name` only picks the
/// tag and must match its letter case exactly.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTag {
    /// The tag's name, with the exact letter case.
    pub name: String,
    /// Integer IDs of the groups that can use the tag; may be empty.
    pub group_ids: Option<Vec<u32>>,
}

/// Deletes a tag from the license. `name` must match the tag's letter case exactly.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteTag {
    /// The tag's name, with the exact letter case.
    pub name: String,
}

/// The type of a property's values.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PropertyType {
    Int,
    String,
    Bool,
    TokenizedString,
}

/// A kind of access to a property.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessType {
    Read,
    Write,
}

/// Registers a new private property owned by an application (Client ID); its namespace is
/// that Client ID. Only that application can use it until it is published with
/// `publish_property`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterProperty {
    /// The property's name.
    pub name: String,
    /// The Client ID (application) that will own the property; it must belong to your
    /// organization.
    pub owner_client_id: String,
    /// The type of the values: `int` (32-bit), `string`, `bool`, or `tokenized_string` (a
    /// string split into words for search; meant for longer text, not keywords).
    #[serde(rename = "type")]
    pub property_type: PropertyType,
    /// Where the property can be set and who can read or write it there, e.g.
    /// `{"chat": {"agent": ["read"], "customer": ["read", "write"]}}`. Give at least one
    /// location.
    pub access: PropertyAccess,
    /// What the property is for.
    pub description: Option<String>,
    /// The only values the property may take, of its type, e.g. `[1, 2, 3]`.
    pub domain: Option<Vec<Value>>,
    /// For `int` properties: the lowest and highest allowed values.
    pub range: Option<PropertyRange>,
    /// The value returned while none is set; must fit `domain` or `range`. Allowed only when
    /// `access` has `license` or `group`.
    pub default_value: Option<Value>,
}

/// Access per location: at least one of them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct PropertyAccess {
    /// Who can use it on chats.
    pub chat: Option<LocationAccess>,
    /// Who can use it on threads.
    pub thread: Option<LocationAccess>,
    /// Who can use it on events.
    pub event: Option<LocationAccess>,
    /// Who can use it on the license as a whole.
    pub license: Option<LocationAccess>,
    /// Who can use it on groups.
    pub group: Option<LocationAccess>,
}

/// Who may read or write the property in one location: at least one of them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct LocationAccess {
    /// Agents' access: `read` and/or `write`.
    pub agent: Option<Vec<AccessType>>,
    /// Customers' access: `read` and/or `write`.
    pub customer: Option<Vec<AccessType>>,
}

/// Bounds for an `int` property, both inclusive.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyRange {
    /// The lowest allowed value.
    pub from: Option<i32>,
    /// The highest allowed value.
    pub to: Option<i32>,
}

/// Publishes a private property so that other applications can use it with the access given
/// in `access_type`; the owner keeps its own access. This cannot be undone: a published
/// property can be neither unpublished nor unregistered.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishProperty {
    /// The property's name.
    pub name: String,
    /// The Client ID (application) that owns the property; it must belong to your
    /// organization.
    pub owner_client_id: String,
    /// What other applications may do with the property: `read` and/or `write`.
    #[schemars(length(min = 1))]
    pub access_type: Vec<AccessType>,
}
