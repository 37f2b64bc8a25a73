//! Customers: read a customer's profile, update it, and ban a customer (Agent Chat API); list
//! the bans and lift one (Configuration API, v3.6).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Api, Area, ToolSpec,
    common::{Empty, Items, Record},
    record::Names,
};
use crate::version::ApiVersion;

const AREA: Area = Area::Customers;

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::read::<GetCustomer, GetCustomerResult>(AREA, "get_customer", "Get a customer")
        .scopes(&["customers:ro"])
        .names(&[Names::Customer("id")])
        .said("read", "read", "the profile of {customer}"),
    ToolSpec::write::<UpdateCustomer, Empty>(AREA, "update_customer", "Update a customer")
        .check("get_customer")
        .idempotent()
        .scopes(&["customers:rw"])
        .names(&[Names::Customer("id"), Names::ChangedFields])
        .said("updated", "update", "{customer}[ ({fields})]")
        .webhook("customer_session_fields_updated"),
    // Not idempotent: the ban runs `days` from the call, so repeating it later moves its end.
    ToolSpec::write::<BanCustomer, Empty>(AREA, "ban_customer", "Ban a customer")
        .check("get_customer")
        .destructive()
        .scopes(&["customers.ban:rw"])
        .names(&[Names::Customer("id"), Names::Days("ban.days")])
        .said("banned", "ban", "{customer}[ for {days}]"),
    ToolSpec::read::<ListCustomerBans, Items<Record>>(
        AREA,
        "list_customer_bans",
        "List customer bans",
    )
    .in_api(Api::Configuration)
    .versions(V36)
    // LiveChat's ban scopes have no `:ro`/`:rw` suffix.
    .scopes(&["banlist_read"])
    .names(&[])
    .said("listed", "list", "the customer bans"),
    ToolSpec::write::<UnbanCustomer, Empty>(AREA, "unban_customer", "Unban a customer")
        .in_api(Api::Configuration)
        .versions(V36)
        .check("list_customer_bans")
        .idempotent()
        .scopes(&["banlist_write"])
        .names(&[Names::Customer("customer_id")])
        .said("unbanned", "unban", "{customer}"),
];

const V36: &[ApiVersion] = &[ApiVersion::V3_6];

/// Returns a customer's profile, last visit, counters and chat IDs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetCustomer {
    /// Customer ID (a UUID, not an email).
    pub id: String,
}

/// A customer's profile. Only the main fields are listed; the rest (visit, contact details,
/// tickets, ...) come as LiveChat sends them. Fields are present only when set.
#[derive(Debug, JsonSchema)]
pub struct GetCustomerResult {
    /// The customer's ID.
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The avatar URL.
    pub avatar: Option<String>,
    /// Key-value objects set for the current session.
    pub session_fields: Option<Vec<Record>>,
    /// Counters: chats, threads, visits, page views, greetings, tickets.
    pub statistics: Option<Record>,
    /// IDs of the customer's chats.
    pub chat_ids: Option<Vec<String>>,
}

/// Changes a customer's profile; send at least one field besides `id`. Fields left out stay
/// as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    /// Customer ID (a UUID).
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// One-key string objects, e.g. `[{"plan": "pro"}]`; kept for the session.
    pub session_fields: Option<Vec<BTreeMap<String, String>>>,
    /// E.164, e.g. `+14155552671`.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub phone_number: Option<String>,
    /// `{fbmessenger: {id, name, first_name, last_name, profile_pic, gender, locale,
    /// is_verified_user}, twilio: {phone_number}}`; `id` and `phone_number` required.
    // Shown as a bare object to save context; serde checks the shape and names the bad field.
    #[schemars(extend("x-versions" = ["3.6"]), with = "Option<Record>")]
    pub omnichannel: Option<Omnichannel>,
    /// Postal address.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub address: Option<Address>,
}

/// Identities of the customer on other messaging channels.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Omnichannel {
    /// Facebook Messenger profile.
    pub fbmessenger: Option<FbMessenger>,
    /// Twilio (SMS) identity.
    pub twilio: Option<Twilio>,
}

/// A Facebook Messenger profile.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FbMessenger {
    /// Messenger user ID.
    pub id: String,
    /// Full name.
    pub name: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Picture URL.
    pub profile_pic: Option<String>,
    /// E.g. `male`.
    pub gender: Option<String>,
    /// E.g. `en_US`.
    pub locale: Option<String>,
    /// Verified by Messenger.
    pub is_verified_user: Option<bool>,
}

/// A Twilio identity.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Twilio {
    /// Phone number.
    pub phone_number: String,
}

/// A postal address; every part is optional.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street and number.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Country name.
    pub country: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
}

/// Bans a customer, cutting off their sessions until the ban ends. Only when asked to.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BanCustomer {
    /// Customer ID (a UUID).
    pub id: String,
    /// The ban's length.
    pub ban: Ban,
}

/// The length of a ban.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ban {
    /// Days from now.
    pub days: u32,
}

/// Lists the active customer bans: customer ID or IP, banning agent, start and end.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCustomerBans {}

/// Lifts a customer's ban; name exactly one of `ip` or `customer_id`.
#[derive(Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnbanCustomer {
    /// The banned IP address.
    pub ip: Option<String>,
    /// The banned customer's ID (a UUID).
    pub customer_id: Option<String>,
}

/// `UnbanCustomer` as sent, before the one-of check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnbanCustomerFields {
    ip: Option<String>,
    customer_id: Option<String>,
}

impl<'de> Deserialize<'de> for UnbanCustomer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let UnbanCustomerFields { ip, customer_id } =
            UnbanCustomerFields::deserialize(deserializer)?;
        if ip.is_some() == customer_id.is_some() {
            return Err(serde::de::Error::custom(
                "name exactly one of `ip` or `customer_id`",
            ));
        }
        Ok(UnbanCustomer { ip, customer_id })
    }
}

#[cfg(test)]
mod tests {
    use super::TOOLS;
    use crate::{tools::Api, version::ApiVersion};

    /// The bans are Configuration API methods of v3.6 in this Agent Chat API area; an unban
    /// names exactly one of `ip` and `customer_id`, or nothing is sent.
    #[test]
    fn bans_are_3_6_configuration_methods_and_unban_names_one_target() {
        let spec = |name: &str| TOOLS.iter().find(|s| s.name == name).expect("tool");
        for name in ["list_customer_bans", "unban_customer"] {
            assert_eq!(spec(name).api(), Api::Configuration, "{name}");
            assert!(!spec(name).available_in(ApiVersion::V3_5), "{name}");
            assert!(spec(name).available_in(ApiVersion::V3_6), "{name}");
        }
        assert_eq!(spec("ban_customer").api(), Api::Agent);
        let unban = spec("unban_customer");
        assert!(
            unban
                .prepare(serde_json::json!({"ip": "192.0.2.1"}))
                .is_ok()
        );
        assert!(
            unban
                .prepare(serde_json::json!({"customer_id": "b7ef"}))
                .is_ok()
        );
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"ip": "192.0.2.1", "customer_id": "b7ef"}),
            serde_json::json!({"ip": null, "customer_id": null}),
        ] {
            let err = unban.prepare(bad).unwrap_err();
            assert!(
                err.contains("exactly one of `ip` or `customer_id`"),
                "{err}"
            );
        }
        let err = unban
            .prepare(serde_json::json!({"id": "b7ef"}))
            .unwrap_err();
        assert!(err.contains("`id` is not a field"), "{err}");
    }

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

    /// `omnichannel` is shown as a bare object, so its shape is the typed request's to check.
    #[test]
    fn omnichannel_shape_is_still_checked() {
        let spec = TOOLS
            .iter()
            .find(|s| s.name == "update_customer")
            .expect("tool");
        let with = |omnichannel: serde_json::Value| serde_json::json!({"id": "b7eff798", "omnichannel": omnichannel});
        let ok = with(
            serde_json::json!({"fbmessenger": {"id": "1", "locale": "en_US"},
            "twilio": {"phone_number": "+1"}}),
        );
        assert!(spec.prepare(ok).is_ok());
        let err = spec
            .prepare(with(serde_json::json!({"fbmessenger": {"name": "T"}})))
            .unwrap_err();
        assert!(
            err.contains("`omnichannel.fbmessenger.id` is required"),
            "{err}"
        );
        let err = spec
            .prepare(with(serde_json::json!({"whatsapp": {}})))
            .unwrap_err();
        assert!(
            err.contains("`omnichannel.whatsapp` is not a field"),
            "{err}"
        );
    }
}
