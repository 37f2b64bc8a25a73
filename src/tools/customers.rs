//! Customers: read a customer's profile, update it, and ban a customer (Agent Chat API); list
//! and create customers (Agent Chat API, v3.5 only: v3.6 removed both); list the bans and lift
//! one (Configuration API, v3.6).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Api, Area, ToolSpec,
    common::{Empty, Items, Record, SortOrder},
    record::Names,
};
use crate::version::ApiVersion;

const AREA: Area = Area::Customers;

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::read::<GetCustomer, GetCustomerResult>(AREA, "get_customer", "Get a customer")
        .customer_text()
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
    ToolSpec::read::<ListCustomers, ListCustomersResult>(AREA, "list_customers", "List customers")
        .customer_text()
        .versions(V35)
        .scopes(&["customers:ro"])
        .names(&[])
        .said("listed", "list", "customers"),
    // Not idempotent: each call creates another customer.
    ToolSpec::write::<CreateCustomer, CreateCustomerResult>(
        AREA,
        "create_customer",
        "Create a customer",
    )
    .versions(V35)
    .check("list_customers")
    .scopes(&["customers:rw"])
    .names(&[])
    .said("created", "create", "a customer")
    .webhook("incoming_customer"),
];

const V35: &[ApiVersion] = &[ApiVersion::V3_5];
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

/// Lists customers, newest first (API 3.5 only). For the next page send only `page_id`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCustomers {
    /// An answer's `next_page_id` or `previous_page_id`.
    pub page_id: Option<String>,
    /// Default 10.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// Default `desc`.
    pub sort_order: Option<SortOrder>,
    /// Default `created_at`; ties go by creation time.
    pub sort_by: Option<CustomerSort>,
    /// `name`, `email`, `country`, `customer_id`: `{values|exclude_values: [str]}`;
    /// `chat_group_ids`: the same with ints (max 40); `chats_count`, `threads_count`,
    /// `visits_count`: `{lt|lte|gt|gte|eq: int}`; `created_at`, `agent_last_event_created_at`,
    /// `customer_last_event_created_at`: the same with RFC 3339 times;
    /// `include_customers_without_chats`: bool.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub filters: Option<CustomerFilters>,
}

/// What `list_customers` sorts by.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerSort {
    CreatedAt,
    ThreadsCount,
    VisitsCount,
    AgentLastEvent,
    CustomerLastEvent,
}

/// Filters for `list_customers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerFilters {
    pub country: Option<ValuesFilter<String>>,
    pub email: Option<ValuesFilter<String>>,
    pub name: Option<ValuesFilter<String>>,
    pub customer_id: Option<ValuesFilter<String>>,
    pub chats_count: Option<RangeFilter<i64>>,
    pub threads_count: Option<RangeFilter<i64>>,
    pub visits_count: Option<RangeFilter<i64>>,
    pub created_at: Option<RangeFilter<String>>,
    pub agent_last_event_created_at: Option<RangeFilter<String>>,
    pub customer_last_event_created_at: Option<RangeFilter<String>>,
    pub chat_group_ids: Option<GroupIdsFilter>,
    pub include_customers_without_chats: Option<bool>,
}

/// `{values: [...]}` or `{exclude_values: [...]}`: LiveChat allows one of them per filter.
#[derive(Debug)]
pub struct ValuesFilter<T> {
    pub values: Option<Vec<T>>,
    pub exclude_values: Option<Vec<T>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValuesFilterFields<T> {
    values: Option<Vec<T>>,
    exclude_values: Option<Vec<T>>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ValuesFilter<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ValuesFilterFields {
            values,
            exclude_values,
        } = ValuesFilterFields::deserialize(deserializer)?;
        if values.is_some() == exclude_values.is_some() {
            return Err(serde::de::Error::custom(
                "use exactly one of `values` or `exclude_values`",
            ));
        }
        Ok(ValuesFilter {
            values,
            exclude_values,
        })
    }
}

/// Group IDs to match or leave out, at most 40.
#[derive(Debug)]
pub struct GroupIdsFilter(pub ValuesFilter<u32>);

impl<'de> Deserialize<'de> for GroupIdsFilter {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let filter = ValuesFilter::<u32>::deserialize(deserializer)?;
        let count = filter
            .values
            .as_ref()
            .or(filter.exclude_values.as_ref())
            .map_or(0, Vec::len);
        if count > 40 {
            return Err(serde::de::Error::custom(format!(
                "at most 40 group IDs at once (got {count})"
            )));
        }
        Ok(GroupIdsFilter(filter))
    }
}

/// Bounds on a count or a time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeFilter<T> {
    pub lt: Option<T>,
    pub lte: Option<T>,
    pub gt: Option<T>,
    pub gte: Option<T>,
    pub eq: Option<T>,
}

/// A page of customers.
#[derive(Debug, JsonSchema)]
pub struct ListCustomersResult {
    /// The customers' profiles.
    pub customers: Option<Vec<Record>>,
    /// How many customers match.
    pub total_customers: Option<u64>,
    /// How many of them can be listed, when fewer.
    pub limited_customers: Option<u64>,
    pub next_page_id: Option<String>,
    pub previous_page_id: Option<String>,
}

/// Creates a customer (API 3.5 only); every field is optional.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    /// Display name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// One-key string objects, e.g. `[{"plan": "pro"}]`.
    pub session_fields: Option<Vec<BTreeMap<String, String>>>,
}

/// The new customer.
#[derive(Debug, JsonSchema)]
pub struct CreateCustomerResult {
    /// The new customer's ID.
    pub customer_id: Option<String>,
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

    /// v3.6 removed `list_customers` and `create_customer`; their filters are checked before
    /// sending, though the schema shows them as a bare object.
    #[test]
    fn listing_and_creating_customers_are_3_5_only_and_filters_are_checked() {
        let spec = |name: &str| TOOLS.iter().find(|s| s.name == name).expect("tool");
        for name in ["list_customers", "create_customer"] {
            assert!(spec(name).available_in(ApiVersion::V3_5), "{name}");
            assert!(!spec(name).available_in(ApiVersion::V3_6), "{name}");
            assert_eq!(spec(name).api(), Api::Agent, "{name}");
        }
        let list = spec("list_customers");
        let good = serde_json::json!({"filters": {
            "name": {"values": ["Thomas Anderson"]},
            "chat_group_ids": {"exclude_values": [19]},
            "chats_count": {"gte": 1},
            "created_at": {"lt": "2026-03-01T00:00:00.000000Z"},
            "include_customers_without_chats": true
        }, "sort_by": "visits_count", "limit": 5});
        assert_eq!(list.prepare(good.clone()).unwrap(), good);
        for (bad, says) in [
            (
                serde_json::json!({"filters": {"email": {"values": ["a@b.c"], "exclude_values": ["d@e.f"]}}}),
                "`filters.email`: use exactly one of `values` or `exclude_values`",
            ),
            (
                serde_json::json!({"filters": {"name": {}}}),
                "`filters.name`: use exactly one of `values` or `exclude_values`",
            ),
            (
                serde_json::json!({"filters": {"chat_group_ids": {"values": (0..41).collect::<Vec<u32>>()}}}),
                "at most 40 group IDs at once (got 41)",
            ),
            (
                serde_json::json!({"filters": {"visits_count": {"between": 3}}}),
                "`filters.visits_count.between` is not a field",
            ),
            (
                serde_json::json!({"sort_by": "name"}),
                "`sort_by`: unknown variant `name`",
            ),
        ] {
            let err = list.prepare(bad).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
        let create = spec("create_customer");
        assert!(create.prepare(serde_json::json!({})).is_ok());
        let err = create
            .prepare(serde_json::json!({"session_fields": [{"plan": 3}]}))
            .unwrap_err();
        assert!(err.contains("`session_fields[0].plan`"), "{err}");
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
