//! Request pieces shared by several areas: events, properties, users, sort order.
//!
//! Doc comments here are schema text the model reads.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Custom property values: namespace → property name → value, e.g.
/// `{"routing": {"priority": "high"}}`. Properties must be registered on the license first.
pub type PropertyValues = BTreeMap<String, BTreeMap<String, Value>>;

/// Names of custom properties to delete: namespace → property names, e.g.
/// `{"routing": ["priority"]}`.
pub type PropertyNames = BTreeMap<String, Vec<String>>;

/// Order of a paged list.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// Who can see an event: everyone in the chat, or only agents.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    All,
    Agents,
}

/// A kind of chat user.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    Agent,
    Customer,
}

/// A chat user, by ID and kind.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatUser {
    /// The user's ID (an agent's email-like ID, or a customer ID).
    pub id: String,
    /// `agent` or `customer`.
    #[serde(rename = "type")]
    pub user_type: UserType,
}

/// Which groups may see a chat.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatAccess {
    /// Group IDs (integers) whose agents may access the chat.
    pub group_ids: Option<Vec<u32>>,
}

/// What a rich message button does.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ButtonType {
    Webview,
    Message,
    Url,
    Phone,
    Cancel,
}

/// How tall a `webview` button's window is.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebviewHeight {
    Compact,
    Tall,
    Full,
}

/// Where a `url` button opens its link.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ButtonTarget {
    New,
    Current,
}

/// A button inside a rich message element.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RichMessageButton {
    /// The button label.
    pub text: Option<String>,
    /// What the button does: `webview`, `message`, `url` or `phone` (`cancel` closes a
    /// webview). Send it together with `value`.
    #[serde(rename = "type")]
    pub button_type: Option<ButtonType>,
    /// The URL, phone number or message text the button carries.
    pub value: Option<String>,
    /// The postback ID sent back when the button is pressed.
    pub postback_id: Option<String>,
    /// IDs of the users who pressed the button (usually `[]` when sending).
    pub user_ids: Option<Vec<String>>,
    /// Required for `webview` buttons: `compact`, `tall` or `full`.
    pub webview_height: Option<WebviewHeight>,
    /// For `url` buttons: open in a `new` or the `current` tab.
    pub target: Option<ButtonTarget>,
}

/// An image in a rich message element.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RichMessageImage {
    /// The image URL.
    pub url: String,
    /// The file name, e.g. `image25.png`.
    pub name: Option<String>,
    /// The MIME type, e.g. `image/png`.
    pub content_type: Option<String>,
    /// The file size in bytes.
    pub size: Option<u64>,
    /// The width in pixels.
    pub width: Option<u32>,
    /// The height in pixels.
    pub height: Option<u32>,
    /// Text shown when the image cannot be.
    pub alternative_text: Option<String>,
}

/// How an `ecommerce` rich message shows a product's options.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EcommerceViewType {
    Tags,
    Swatch,
    Images,
    Select,
}

/// One option (variant) of a product in an `ecommerce` rich message.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcommerceOption {
    /// The option's ID, sent back in `postback.ecommerce.option_id`.
    pub option_id: String,
    /// The option's label, e.g. `XL`.
    pub label: String,
    pub price: Option<String>,
    pub regular_price: Option<String>,
    pub currency: Option<String>,
    pub color: Option<String>,
    pub image_url: Option<String>,
    pub image_thumbnail_url: Option<String>,
    /// Whether the option can be bought.
    pub available: Option<bool>,
    /// Whether the option is preselected.
    pub selected: Option<bool>,
}

/// An addon of a product in an `ecommerce` rich message.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcommerceAddon {
    /// The addon's kind.
    pub addon_type: String,
    pub range_from: Option<String>,
    pub range_to: Option<String>,
    pub currency: Option<String>,
}

/// The product an `ecommerce` rich message element shows.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElementEcommerce {
    /// How the options are shown: `tags`, `swatch`, `images` or `select`.
    pub view_type: EcommerceViewType,
    /// The product's ID.
    pub product_id: String,
    /// The product's label.
    pub label: Option<String>,
    /// The product's options (variants).
    pub options: Option<Vec<EcommerceOption>>,
    /// The product's addons.
    pub addons: Option<Vec<EcommerceAddon>>,
}

/// One card of a rich message.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RichMessageElement {
    /// Formatted text shown on the card.
    pub title: Option<String>,
    /// Formatted text shown under the title.
    pub subtitle: Option<String>,
    pub image: Option<RichMessageImage>,
    /// At most 13 buttons.
    #[schemars(length(max = 13))]
    pub buttons: Option<Vec<RichMessageButton>>,
    /// For the `ecommerce` template: the product shown.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub ecommerce: Option<ElementEcommerce>,
}

/// How a rich message is laid out. `ecommerce` exists only on API 3.6.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RichMessageTemplate {
    Cards,
    Sticker,
    QuickReplies,
    /// A product card; API 3.6 only.
    #[schemars(extend("x-versions" = ["3.6"]))]
    Ecommerce,
}

/// Marks a message as the answer to a rich message button.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagePostback {
    /// The button's `postback_id`.
    pub id: String,
    /// The thread holding the rich message.
    pub thread_id: String,
    /// The rich message event's ID.
    pub event_id: String,
    /// The button's `type`; send it together with `value`.
    #[serde(rename = "type")]
    pub button_type: Option<String>,
    /// The button's `value`; send it together with `type`.
    pub value: Option<String>,
    /// For `ecommerce` rich messages: the product chosen.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub ecommerce: Option<EcommercePostback>,
}

/// The product a postback refers to.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcommercePostback {
    /// The product's ID as shown in the rich message.
    pub product_id: String,
    /// The chosen product option (variant), e.g. a size or colour.
    pub option_id: Option<String>,
    /// How many items of the product.
    pub quantity: Option<u32>,
}

/// The kinds of form fields.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormFieldType {
    Checkbox,
    Email,
    Name,
    Question,
    Subject,
    Textarea,
    GroupChooser,
    Radio,
    Select,
}

/// A choice offered by a `radio`, `select`, `checkbox` or `group_chooser` field.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormOption {
    pub id: String,
    pub label: String,
    /// For `group_chooser`: the group the choice routes to.
    pub group_id: Option<u32>,
}

/// A field of a form to fill in.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    #[serde(rename = "type")]
    pub field_type: FormFieldType,
    /// The field's ID.
    pub id: String,
    /// The field's label.
    pub label: String,
    /// Whether the customer must fill it in.
    pub required: Option<bool>,
    /// The choices of a `radio`, `select`, `checkbox` or `group_chooser` field.
    pub options: Option<Vec<FormOption>>,
}

/// A filled-in form field.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilledFormField {
    #[serde(rename = "type")]
    pub field_type: FormFieldType,
    /// The field's ID.
    pub id: String,
    /// The field's label.
    pub label: String,
    /// The answer: text for text fields, `{"id", "label"}` for a choice (plus `group_id` for
    /// `group_chooser`).
    pub answer: Option<Value>,
    /// For `checkbox` fields: the choices ticked, each `{"id", "label"}`.
    pub answers: Option<Vec<FormOption>>,
}

/// A message text: at most 16 KB of UTF-8 (LiveChat counts bytes, so one emoji can take 4).
#[derive(Clone, Debug, JsonSchema)]
#[schemars(transparent)]
pub struct MessageText(#[schemars(length(min = 1, max = 16384))] pub String);

/// LiveChat's limit on a message's raw text, in bytes.
pub const MAX_TEXT_BYTES: usize = 16384;

impl<'de> Deserialize<'de> for MessageText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty() {
            return Err(serde::de::Error::custom("`text` is empty"));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(serde::de::Error::custom(format!(
                "`text` is {} bytes; LiveChat takes at most {MAX_TEXT_BYTES} (split it into several messages)",
                text.len()
            )));
        }
        Ok(MessageText(text))
    }
}

/// A chat event to send. `message` is plain text; the other types are for richer content.
///
/// The model is shown `event_schema`, not this type's derived schema: the doc comments of
/// the event types here are for readers of the code.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// A text message.
    Message {
        /// The message text: at most 16 KB of UTF-8 (an emoji can take 4 bytes).
        text: MessageText,
        /// `all` (default: the customer sees it) or `agents` (an internal note).
        visibility: Option<Visibility>,
        /// Your own ID for the event, echoed back by LiveChat.
        custom_id: Option<String>,
        /// Event properties, namespace → name → value.
        properties: Option<PropertyValues>,
        /// Set when the message answers a rich message button.
        postback: Option<MessagePostback>,
    },
    /// A file previously uploaded to LiveChat, by its URL.
    File {
        /// The URL LiveChat returned for the uploaded file (it must point to LiveChat's CDN).
        url: String,
        /// Text describing an image, for screen readers.
        alternative_text: Option<String>,
        visibility: Option<Visibility>,
        custom_id: Option<String>,
        properties: Option<PropertyValues>,
    },
    /// Cards, quick replies, a sticker or (API 3.6) a product, with buttons.
    RichMessage {
        /// `cards`, `sticker`, `quick_replies`, or `ecommerce` (API 3.6 only).
        template_id: RichMessageTemplate,
        /// The cards of the message, at most 10.
        #[schemars(length(max = 10))]
        elements: Option<Vec<RichMessageElement>>,
        visibility: Option<Visibility>,
        custom_id: Option<String>,
        properties: Option<PropertyValues>,
    },
    /// A custom event with free-form content, for integrations.
    Custom {
        /// Any JSON object your integration understands.
        content: Option<serde_json::Map<String, Value>>,
        visibility: Option<Visibility>,
        custom_id: Option<String>,
        properties: Option<PropertyValues>,
    },
    /// An empty form for the customer to fill in (the LiveChat app does not show it; custom
    /// chat widgets can).
    Form {
        /// The form's ID.
        form_id: String,
        /// The form's fields.
        fields: Vec<FormField>,
        visibility: Option<Visibility>,
        custom_id: Option<String>,
        properties: Option<PropertyValues>,
    },
    /// A form with its answers, e.g. a pre-chat or post-chat survey.
    FilledForm {
        /// The form's ID.
        form_id: String,
        /// The fields with their answers.
        fields: Vec<FilledFormField>,
        visibility: Option<Visibility>,
        custom_id: Option<String>,
        properties: Option<PropertyValues>,
    },
    /// A system message shown in the chat.
    SystemMessage {
        /// Your own type name for the system message, e.g. `routing.assigned`.
        system_message_type: String,
        /// The text shown.
        text: Option<String>,
        /// Values for the variables in the text, e.g. `{"agent": "John Doe"}`.
        text_vars: Option<serde_json::Map<String, Value>>,
        /// Who sees it: `all` or `agents`.
        visibility: Option<Visibility>,
        custom_id: Option<String>,
    },
}

/// The schema shown for a list of events where `send_event` already shows an event's shape:
/// repeating the whole event union in every tool that takes events would triple its cost in
/// the model's context. The typed `Event` still checks each item, naming the field.
pub fn event_list_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {"type": "object"}
    })
}

/// A nested object shown by its description alone: the field's doc comment names the keys
/// the model needs, and the typed field still checks every key, naming it on error.
pub fn object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object"})
}

/// A list of nested objects shown by its description alone (see `object`).
pub fn objects(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "array", "items": {"type": "object"}})
}

/// Chat users to add, shown compactly: at most 5 (4 agents besides the requester, 1 customer).
pub fn chat_users(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "array", "maxItems": 5, "items": {"type": "object"}})
}

/// The shape `send_event` shows for `Event`: one flat object whose fields say which event
/// types take them. The typed `Event` union is the validator (which fields belong to which
/// type, which are required, every nested key), and names the field on error; this schema
/// keeps what differs by version: `ecommerce` (template, element and postback) is 3.6 only,
/// and 3.5 refuses it here because the typed union knows every version's fields.
pub fn event_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    const POSTBACK: &str = "`message` answering a rich message button: `{id: the button's postback_id, thread_id, event_id, type, value}`";
    const ELEMENTS: &str = "`rich_message` cards, at most 10: `{title, subtitle, image: {url, name, content_type, size, width, height, alternative_text}, buttons}`; at most 13 `buttons`, each `{text, type, value, postback_id, user_ids, webview_height, target}`. Button `type`: `message`, `url` (`target`: new|current), `phone`, `webview` (needs `webview_height`: compact|tall|full), `cancel`.";
    const TEMPLATES: [&str; 3] = ["cards", "sticker", "quick_replies"];
    schemars::json_schema!({
        "type": "object",
        "required": ["type"],
        // 3.5 has no `ecommerce`; refused here, at `event`, like any other misfit event.
        "anyOf": [
            {"x-versions": ["3.5"], "not": {"anyOf": [
                {"required": ["postback"], "properties": {"postback": {"required": ["ecommerce"]}}},
                {"required": ["elements"], "properties": {"elements": {"contains": {"required": ["ecommerce"]}}}}
            ]}},
            {"x-versions": ["3.6"]}
        ],
        "properties": {
            "type": {
                "enum": ["message", "file", "rich_message", "custom", "form", "filled_form", "system_message"],
                "description": "The event's kind; each field below says which kinds take it."
            },
            "text": {"type": "string", "description": "`message` (required, at most 16 KB of UTF-8) or `system_message` text."},
            "visibility": {"enum": ["all", "agents"], "description": "`agents`: an internal note the customer does not see. Default `all`."},
            "custom_id": {"type": "string", "description": "Your own ID, echoed back."},
            "properties": {"type": "object", "description": "Event properties: namespace → name → value."},
            "postback": {"type": "object", "anyOf": [
                {"x-versions": ["3.5"], "description": format!("{POSTBACK}.")},
                {"x-versions": ["3.6"], "description": format!("{POSTBACK}, plus `ecommerce: {{product_id, option_id, quantity}}` for a product.")}
            ]},
            "url": {"type": "string", "description": "`file` (required): the URL LiveChat gave the uploaded file."},
            "alternative_text": {"type": "string", "description": "`file`: an image's description for screen readers."},
            "template_id": {"description": "`rich_message` (required): the layout.", "anyOf": [
                {"x-versions": ["3.5"], "enum": TEMPLATES},
                {"x-versions": ["3.6"], "enum": ["cards", "sticker", "quick_replies", "ecommerce"]}
            ]},
            "elements": {"type": "array", "maxItems": 10, "items": {"type": "object"}, "anyOf": [
                {"x-versions": ["3.5"], "description": ELEMENTS},
                {"x-versions": ["3.6"], "description": format!(
                    "{ELEMENTS} The `ecommerce` template's card has `ecommerce: {{view_type: tags|swatch|images|select, product_id, label, options: [{{option_id, label, price, regular_price, currency, color, image_url, image_thumbnail_url, available, selected}}], addons: [{{addon_type, range_from, range_to, currency}}]}}`.")}
            ]},
            "content": {"type": "object", "description": "`custom`: any JSON object."},
            "form_id": {"type": "string", "description": "`form`, `filled_form` (required): the form's ID."},
            "fields": {"type": "array", "items": {"type": "object"}, "description": "`form`, `filled_form` (required): `[{type, id, label, required, options: [{id, label, group_id}]}]`, field `type` one of name, email, question, subject, textarea, checkbox, radio, select, group_chooser. A filled field has `answer` (text, or the chosen `{id, label}`) or, for checkbox, `answers: [{id, label}]`."},
            "system_message_type": {"type": "string", "description": "`system_message` (required): its type name, e.g. `routing.assigned`."},
            "text_vars": {"type": "object", "description": "`system_message`: values for the text's variables, e.g. `{\"agent\": \"John\"}`."}
        }
    })
}

/// The empty object that methods without a result answer with.
#[derive(Debug, JsonSchema)]
pub struct Empty {}

/// A list result: LiveChat answers some methods with a bare array, which the tool wraps as
/// `{"items": [...]}` so results stay objects.
#[derive(Debug, JsonSchema)]
pub struct Items<T: JsonSchema> {
    /// The records LiveChat returned.
    pub items: Vec<T>,
}

/// A JSON object whose fields LiveChat defines (a chat, thread, agent, ...).
pub type Record = serde_json::Map<String, Value>;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::Event;

    /// The hand-written event schema shows every field the typed `Event` takes, and no other.
    #[test]
    fn event_schema_lists_every_field_of_the_typed_union() {
        let derived = serde_json::to_value(schemars::schema_for!(Event)).unwrap_or_default();
        let typed: BTreeSet<String> = derived["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|branch| branch["properties"].as_object())
            .flat_map(|props| props.keys().cloned())
            .collect();
        let shown = super::event_schema(&mut schemars::SchemaGenerator::default());
        let shown: BTreeSet<String> = shown
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| props.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(typed, shown);
    }
}
