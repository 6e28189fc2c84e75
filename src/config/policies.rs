//! The `policies:` section of the desired-state file: what must never happen, and
//! explicit tests of effective access. Only the shapes live here (they make the JSON
//! Schema); judging them is `policy`'s job.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Days, Grants};
use crate::model::Level;

/// Rules the account must follow, judged by validate (on the file), plan (on the
/// account as apply leaves it), apply (which refuses a plan that adds a violation) and
/// check (on the live account).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    /// Every user holding this level or more anywhere has two-factor authentication on
    /// (judged on the live account only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::present::level"
    )]
    #[schemars(with = "Level")]
    pub require_2fa: Option<Level>,
    /// At most this many account admins (users and invites) besides the owner.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::present::number"
    )]
    #[schemars(with = "u32")]
    pub max_account_admins: Option<u32>,
    /// Users and invites have an email in one of these domains (any case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_email_domains: Vec<String>,
    /// Every API token expires within this (`365d`); one that never expires fails.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::present::days"
    )]
    #[schemars(with = "String")]
    pub token_max_lifetime: Option<Days>,
    /// Nobody matching `who` holds `level` or more on `on`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<DenyRule>,
    /// Explicit tests of effective access, like unit tests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<Expectation>,
}

impl Policies {
    pub fn is_empty(&self) -> bool {
        *self == Policies::default()
    }
}

/// `{who, level, on}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyRule {
    /// An email glob (`*@contractors.acme.com`, any case), or `tokens`, `invites` or
    /// `users` (any case).
    pub who: String,
    pub level: Level,
    pub on: On,
}

/// What a rule is about: the account, billing, the campaigns scope, any resource, or
/// one named resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum On {
    Scope(Scope),
    #[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
    Named(BTreeMap<NamedKind, String>),
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Account,
    Billing,
    EmailCampaigns,
    Any,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NamedKind {
    Project,
    Inbox,
    Sandbox,
    SendingDomain,
    Domain,
}

/// `{user: EMAIL | token: NAME, can: GRANTS, cannot: GRANTS}`: the effective access the
/// subject must reach, and must not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["user"], "properties": {"user": {"type": "string"}}},
    {"required": ["token"], "properties": {"token": {"type": "string"}}},
]))]
pub struct Expectation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "is_no_grants")]
    pub can: Grants,
    #[serde(default, skip_serializing_if = "is_no_grants")]
    pub cannot: Grants,
}

fn is_no_grants(grants: &Grants) -> bool {
    *grants == Grants::default()
}
