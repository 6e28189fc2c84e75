//! Deserializers for the file's fields that refuse an empty value. In YAML a key with
//! nothing after it (`account:`, `projects:`, `bob@acme.com:`) is null, and serde reads
//! a null option or map as "none": for a grant that means "no access", so a slip of the
//! editor would remove rows. Here it is an error at that key instead; `{}` and `[]`
//! stay the way to say none. Fields left out entirely take their defaults as before.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::Grants;
use crate::model::{Level, WantedExpiry};

/// `T`, refusing a null with `missing` as the message.
fn required<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
    missing: &str,
) -> Result<T, D::Error> {
    Option::<T>::deserialize(deserializer)?.ok_or_else(|| D::Error::custom(missing))
}

pub(super) const LEVEL_MISSING: &str = "the level is missing: write admin or viewer";

/// `account`, `billing` and `email_campaigns`.
pub(super) fn level<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Level>, D::Error> {
    required(deserializer, LEVEL_MISSING).map(Some)
}

/// `projects`, `inboxes` and `sending_domains`.
pub(super) fn levels<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Level>, D::Error> {
    let map: Map<Level> = required(
        deserializer,
        "nothing after it: write names with their levels, or `{}` for none",
    )?;
    Ok(map.0)
}

/// `roles` of a user, token or role.
pub(super) fn role_names<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    required(
        deserializer,
        "nothing after it: write a list of roles, or `[]` for none",
    )
}

/// `roles`, `users` and `api_tokens` at the top of the file.
pub(super) fn entries<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Grants>, D::Error> {
    let map: Map<Grants> = required(deserializer, "nothing after it: write `{}` for none")?;
    Ok(map.0)
}

/// `account_id` and `min_account_admins`.
pub(super) fn number<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    required(
        deserializer,
        "nothing after it: write a number, or leave the line out",
    )
    .map(Some)
}

/// `expires_at` of a token.
pub(super) fn expiry<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<WantedExpiry>, D::Error> {
    required(
        deserializer,
        "nothing after it: write a date (2027-06-30), a UTC date-time or never, or leave the line out",
    )
    .map(Some)
}

/// `ignore`.
pub(super) fn patterns<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    required(
        deserializer,
        "nothing after it: write a list of patterns, or leave the line out",
    )
}

/// `expiry_warning`.
pub(super) fn days<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<super::Days>, D::Error> {
    required(
        deserializer,
        "nothing after it: write a number of days (14d), or leave the line out",
    )
    .map(Some)
}

/// `unmanaged` and `unmanaged_tokens`.
pub(super) fn policy<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    required(
        deserializer,
        "nothing after it: write ignore or remove, or leave the line out",
    )
}

/// What an entry of a map holds, and what to say when it holds nothing.
trait Entry: Sized {
    fn missing(key: &str) -> String;
}

impl Entry for Level {
    fn missing(key: &str) -> String {
        format!("the level of {key:?} is missing: write admin or viewer")
    }
}

impl Entry for Grants {
    fn missing(key: &str) -> String {
        format!("{key:?} has nothing after it: write `{key}: {{}}` to give it no grants")
    }
}

/// A map whose every value must be written.
struct Map<T>(BTreeMap<String, T>);

impl<'de, T: Deserialize<'de> + Entry> Deserialize<'de> for Map<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Entry> Visitor<'de> for MapVisitor<T> {
            type Value = Map<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                // The parser refuses a key written twice, so the entries are distinct. A
                // map collected from a list is built in one pass once sorted.
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
                while let Some(key) = access.next_key::<String>()? {
                    match access.next_value::<Option<T>>()? {
                        Some(value) => entries.push((key, value)),
                        None => return Err(A::Error::custom(T::missing(&key))),
                    }
                }
                Ok(Map(entries.into_iter().collect()))
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}
