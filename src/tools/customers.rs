//! Customers: read a customer's profile, update it, and ban a customer (Agent Chat API).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Area, ToolSpec,
    common::{Empty, Record},
    record::Names,
};

const AREA: Area = Area::Customers;

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::read::<GetCustomer, GetCustomerResult>(AREA, "get_customer", "Get a customer")
        .scopes(&["customers:ro"])
        .names(&[Names::Customer("id")])
        .said("read", "read", "the profile of {customer}"),
    ToolSpec::write::<UpdateCustomer, Empty>(AREA, "update_customer", "Update a customer")
        .idempotent()
        .scopes(&["customers:rw"])
        .names(&[Names::Customer("id"), Names::ChangedFields])
        .said("updated", "update", "{customer}[ ({fields})]")
        .webhook("customer_session_fields_updated"),
    // Not idempotent: the ban runs `days` from the call, so repeating it later moves its end.
    ToolSpec::write::<BanCustomer, Empty>(AREA, "ban_customer", "Ban a customer")
        .destructive()
        .scopes(&["customers.ban:rw"])
        .names(&[Names::Customer("id"), Names::Days("ban.days")])
        .said("banned", "ban", "{customer}[ for {days}]"),
];

/// Returns one customer's profile: name, email, session fields, visit details, counters and
/// the IDs of their chats. The customer ID is the UUID seen as a `customer` user in a chat,
/// not an email address.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetCustomer {
    /// The customer's ID (a UUID).
    pub id: String,
}

/// A customer's profile. Fields are present only when set.
#[derive(Debug, JsonSchema)]
pub struct GetCustomerResult {
    /// The customer's ID.
    pub id: Option<String>,
    /// Always `customer`.
    #[serde(rename = "type")]
    pub user_type: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Whether the customer confirmed their email address.
    pub email_verified: Option<bool>,
    /// The avatar URL.
    pub avatar: Option<String>,
    /// The phone number (API 3.6).
    pub phone_number: Option<String>,
    /// When the customer was first seen (RFC 3339).
    pub created_at: Option<String>,
    /// Key-value objects set for the current session.
    pub session_fields: Option<Vec<Record>>,
    /// Counters: chats, threads, visits, page views, greetings, tickets.
    pub statistics: Option<Record>,
    /// The most recent visit: times, referrer, IP, user agent, geolocation, last pages
    /// (API 3.6).
    pub visit: Option<Record>,
    /// The most recent visit (API 3.5 name of `visit`).
    pub last_visit: Option<Record>,
    /// IDs of the customer's chats.
    pub chat_ids: Option<Vec<String>>,
    /// Messenger and Twilio identities (API 3.6).
    pub omnichannel: Option<Record>,
    /// Postal address (API 3.6).
    pub address: Option<Record>,
    /// Shopping carts (API 3.6).
    pub carts: Option<Vec<Record>>,
    /// Tickets of the customer.
    pub tickets: Option<Vec<Record>>,
    /// When an agent last sent an event to the customer (RFC 3339).
    pub agent_last_event_created_at: Option<String>,
    /// When the customer last sent an event (RFC 3339).
    pub customer_last_event_created_at: Option<String>,
}

/// Changes a customer's name, email, avatar or session fields (on 3.6 also phone number,
/// messaging identities and address). Send `id` and at least one field to change; fields
/// left out stay as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    /// The customer's ID, a UUID v4.
    pub id: String,
    /// The customer's display name.
    pub name: Option<String>,
    /// The customer's email address.
    pub email: Option<String>,
    /// URL of the customer's avatar image.
    pub avatar: Option<String>,
    /// Session fields as a list of one-key objects, e.g. `[{"order": "1234"}, {"plan":
    /// "pro"}]`; the order is kept. They last as long as the customer's session.
    pub session_fields: Option<Vec<BTreeMap<String, String>>>,
    /// Phone number in E.164 form, e.g. `+14155552671`.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub phone_number: Option<String>,
    /// The customer's identities on other channels.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub omnichannel: Option<Omnichannel>,
    /// The customer's postal address.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub address: Option<Address>,
}

/// Identities of the customer on other messaging channels.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Omnichannel {
    /// The customer's Facebook Messenger profile.
    pub fbmessenger: Option<FbMessenger>,
    /// The customer's Twilio (SMS) identity.
    pub twilio: Option<Twilio>,
}

/// A Facebook Messenger profile.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FbMessenger {
    /// The Messenger user ID (required whenever `fbmessenger` is sent).
    pub id: String,
    /// Full name on Messenger.
    pub name: Option<String>,
    /// First name on Messenger.
    pub first_name: Option<String>,
    /// Last name on Messenger.
    pub last_name: Option<String>,
    /// URL of the Messenger profile picture.
    pub profile_pic: Option<String>,
    /// Gender as Messenger reports it, e.g. `male`.
    pub gender: Option<String>,
    /// Locale as Messenger reports it, e.g. `en_US`.
    pub locale: Option<String>,
    /// Whether Messenger marks the user as verified.
    pub is_verified_user: Option<bool>,
}

/// A Twilio identity.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Twilio {
    /// The phone number used with Twilio (required whenever `twilio` is sent).
    pub phone_number: String,
}

/// A postal address; every part is optional.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street and number.
    pub address: Option<String>,
    /// City name.
    pub city: Option<String>,
    /// Country name, e.g. `United States`.
    pub country: Option<String>,
    /// State or region name.
    pub state: Option<String>,
    /// Postal or ZIP code.
    pub postal_code: Option<String>,
}

/// Bans a customer for a number of days: all their active sessions are cut off at once and
/// they cannot connect again until the ban ends. Use only when asked to block a customer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BanCustomer {
    /// The customer's ID (a UUID).
    pub id: String,
    /// How long the ban lasts.
    pub ban: Ban,
}

/// The length of a ban.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ban {
    /// Number of days the customer stays banned, counted from now.
    pub days: u32,
}

#[cfg(test)]
mod tests {
    use super::TOOLS;
    use crate::version::ApiVersion;

    #[test]
    fn contact_details_are_3_6_only() {
        let spec = TOOLS
            .iter()
            .find(|s| s.name == "update_customer")
            .expect("tool");
        let v35 = spec.input_schema(ApiVersion::V3_5);
        let v36 = spec.input_schema(ApiVersion::V3_6);
        for field in ["phone_number", "omnichannel", "address"] {
            assert!(v35["properties"].get(field).is_none(), "{field} on 3.5");
            assert!(v36["properties"].get(field).is_some(), "{field} on 3.6");
        }
    }
}
