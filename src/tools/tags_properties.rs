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
        .check("list_tags")
        .scopes(TAG_WRITE_SCOPES)
        .names(&[Names::Tag("name")])
        .said("created", "create", "{tag}")
        .webhook("tag_created"),
    ToolSpec::read::<ListTags, Items<Record>>(AREA, "list_tags", "List tags")
        .scopes(TAG_READ_SCOPES)
        .names(&[])
        .said("listed", "list", "tags"),
    ToolSpec::write::<UpdateTag, Empty>(AREA, "update_tag", "Change a tag's groups")
        .check("list_tags")
        .idempotent()
        .scopes(TAG_WRITE_SCOPES)
        .names(&[Names::Tag("name")])
        .said("changed", "change", "the groups of {tag}")
        .webhook("tag_updated"),
    ToolSpec::write::<DeleteTag, Empty>(AREA, "delete_tag", "Delete a tag")
        .check("list_tags")
        .destructive()
        .idempotent()
        .scopes(TAG_WRITE_SCOPES)
        .names(&[Names::Tag("name")])
        .said("deleted", "delete", "{tag}")
        .webhook("tag_deleted"),
    ToolSpec::write::<RegisterProperty, Empty>(AREA, "register_property", "Register a property")
        .check("list_properties")
        .scopes(PROPERTY_SCOPES)
        .names(&[Names::Property("name")])
        .said("registered", "register", "{property}"),
    ToolSpec::write::<PublishProperty, Empty>(AREA, "publish_property", "Publish a property")
        // Nothing takes it back: a published property can be neither unpublished nor
        // unregistered.
        .check("list_properties")
        .destructive()
        .idempotent()
        .scopes(PROPERTY_SCOPES)
        .names(&[Names::Property("name")])
        .said("published", "publish", "{property}"),
    ToolSpec::read::<ListProperties, Record>(AREA, "list_properties", "List an app's properties")
        .scopes(PROPERTY_SCOPES)
        .names(&[])
        .said("listed", "list", "an app's registered properties"),
    ToolSpec::write::<UnregisterProperty, Empty>(
        AREA,
        "unregister_property",
        "Unregister a property",
    )
    .check("list_properties")
    .destructive()
    .idempotent()
    .scopes(PROPERTY_SCOPES)
    .names(&[Names::Property("name")])
    .said("unregistered", "unregister", "{property}"),
    ToolSpec::read::<ListLicenseProperties, Record>(
        AREA,
        "list_license_properties",
        "List license property values",
    )
    // `--my`: the caller's own namespace only; `--all`: public properties of others too.
    .scopes(&[
        "properties.license.value--my:ro",
        "properties.license.value--all:ro",
    ])
    .names(&[])
    .said("listed", "list", "the license's property values"),
    ToolSpec::read::<ListGroupsProperties, Items<Record>>(
        AREA,
        "list_groups_properties",
        "List groups' property values",
    )
    .scopes(&["properties.group.value--all:ro"])
    .names(&[])
    .said("listed", "list", "the property values of groups"),
];

/// Creates a tag for threads; names differing only in case are the same tag.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTag {
    /// Tag name.
    pub name: String,
    /// Groups that can use it.
    pub group_ids: Option<Vec<u32>>,
}

/// Lists the license's tags with their groups, author and creation time.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTags {
    /// Default: all tags.
    pub filters: Option<ListTagsFilters>,
}

/// Filters for `list_tags`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTagsFilters {
    /// Only these groups' tags.
    pub group_ids: Vec<u32>,
}

/// Sets which groups can use a tag; tags cannot be renamed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTag {
    /// Tag name, in its exact case.
    pub name: String,
    /// Groups that can use it.
    pub group_ids: Option<Vec<u32>>,
}

/// Deletes a tag from the license.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteTag {
    /// Tag name, in its exact case.
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

// Access kind. No doc comment: it would be repeated in the `$defs` of `register_property`,
// where the fields using it already say what it is.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessType {
    Read,
    Write,
}

/// Registers a private property in the owning app's namespace (its Client ID); only that app
/// can use it until published.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterProperty {
    /// Property name.
    pub name: String,
    /// Owning app's Client ID.
    pub owner_client_id: String,
    /// `tokenized_string`: long text split into words for search.
    #[serde(rename = "type")]
    pub property_type: PropertyType,
    /// Who may read or write it where, e.g. `{"chat": {"agent": ["read"]}}`.
    pub access: PropertyAccess,
    /// What it is for.
    pub description: Option<String>,
    /// The only allowed values.
    pub domain: Option<Vec<Value>>,
    /// `int` bounds, inclusive.
    pub range: Option<PropertyRange>,
    /// Value while none is set; only with `license` or `group` access.
    pub default_value: Option<Value>,
}

/// Access per location.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct PropertyAccess {
    /// On chats.
    pub chat: Option<LocationAccess>,
    /// On threads.
    pub thread: Option<LocationAccess>,
    /// On events.
    pub event: Option<LocationAccess>,
    /// On the license.
    pub license: Option<LocationAccess>,
    /// On groups.
    pub group: Option<LocationAccess>,
}

// Access in one location; undocumented for the same reason as `AccessType`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct LocationAccess {
    /// Agents' access.
    pub agent: Option<Vec<AccessType>>,
    /// Customers' access.
    pub customer: Option<Vec<AccessType>>,
}

/// Bounds for an `int` property, both inclusive.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyRange {
    /// Lowest.
    pub from: Option<i32>,
    /// Highest.
    pub to: Option<i32>,
}

/// Lets other apps use a private property. Cannot be undone: it can never be unpublished or
/// unregistered.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishProperty {
    /// Property name.
    pub name: String,
    /// Owning app's Client ID.
    pub owner_client_id: String,
    /// What other apps may do.
    #[schemars(length(min = 1))]
    pub access_type: Vec<AccessType>,
}

/// Lists an app's registered properties, private and published, with their definitions.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListProperties {
    /// Owning app's Client ID.
    pub owner_client_id: String,
}

/// Removes a private property for good. A published one cannot be unregistered.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnregisterProperty {
    /// Property name.
    pub name: String,
    /// Owning app's Client ID.
    pub owner_client_id: String,
}

/// Returns the license's property values, or defaults: namespace → name → value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListLicenseProperties {
    /// Namespace (an app's Client ID).
    pub namespace: Option<String>,
    /// Name prefix.
    pub name_prefix: Option<String>,
}

/// Returns groups' property values, or defaults, as `[{id, properties}]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListGroupsProperties {
    /// Group IDs; `[]`: every group.
    pub group_ids: Vec<u32>,
    /// Namespace (an app's Client ID).
    pub namespace: Option<String>,
    /// Name prefix.
    pub name_prefix: Option<String>,
}
