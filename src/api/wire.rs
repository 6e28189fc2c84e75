//! The JSON shapes of the reads, decoded strictly into the model. Fields the tool does
//! not use are skipped, and an API token's `token` is not a field of any read here, so
//! a secret the listing might carry is never stored anywhere in the process. (The
//! secret a create or reset answers with is read in `api::created_token`, alone.)

use std::collections::BTreeMap;

use std::fmt;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::model::{
    Access, LevelCode, Resource, ResourceKey, ResourceType, Row, SpecifierKind, Token, Vocabulary,
};

/// `GET .../account_accesses`, each entry converted into an [`Access`] as soon as it is
/// read, so that the decoded form of one entry at a time is held beside the result.
pub(crate) struct Listing {
    pub accesses: Vec<Access>,
    pub names: VocabularyNames,
}

impl<'de> Deserialize<'de> for Listing {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = Listing;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sequence")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listing, A::Error> {
                let mut listing = Listing {
                    accesses: Vec::new(),
                    names: VocabularyNames::new(),
                };
                while let Some(entry) = seq.next_element::<AccessWire>()? {
                    let index = listing.accesses.len();
                    let access =
                        access(index, entry, &mut listing.names).map_err(A::Error::custom)?;
                    listing.accesses.push(access);
                }
                Ok(listing)
            }
        }

        deserializer.deserialize_seq(Entries)
    }
}

#[derive(Deserialize)]
struct AccessWire<'a> {
    id: u64,
    specifier_type: String,
    specifier: SpecifierWire,
    #[serde(borrow)]
    resources: Vec<RowWire<'a>>,
}

#[derive(Deserialize)]
struct SpecifierWire {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    two_factor_authentication_enabled: Option<bool>,
}

#[derive(Deserialize)]
struct RowWire<'a> {
    #[serde(deserialize_with = "integer_or_numeric_string")]
    resource_id: u64,
    /// Borrowed from the body where it can be: a big listing holds a type name per row.
    #[serde(borrow)]
    resource_type: std::borrow::Cow<'a, str>,
    access_level: u32,
}

#[derive(Deserialize)]
pub(crate) struct ResourceNodeWire {
    id: u64,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    resources: Vec<Option<ResourceNodeWire>>,
}

/// The contract types ids as integers; some SDKs send them as strings. Accept both,
/// reject anything else.
fn integer_or_numeric_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    struct Id;

    impl Visitor<'_> for Id {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a resource id (a number, or a number in a string)")
        }

        fn visit_u64<E: serde::de::Error>(self, id: u64) -> Result<u64, E> {
            Ok(id)
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<u64, E> {
            text.parse()
                .map_err(|_| E::custom(format!("resource_id {text:?} is not a number")))
        }
    }

    deserializer.deserialize_any(Id)
}

/// The names that tell a vocabulary apart, each with where it was first seen.
pub(crate) type VocabularyNames = BTreeMap<Vocabulary, String>;

/// Convert the entry at `index` of the listing, checking what serde cannot: a person
/// must have an email. Type names of one vocabulary alone go into `names`.
fn access(
    index: usize,
    entry: AccessWire<'_>,
    names: &mut VocabularyNames,
) -> Result<Access, String> {
    let kind = SpecifierKind::from_api(&entry.specifier_type);
    if kind.is_person() && entry.specifier.email.as_deref().is_none_or(str::is_empty) {
        return Err(format!(
            "entry {index} (access {}) is {} {kind} without an email",
            entry.id,
            if kind == SpecifierKind::Invite {
                "an"
            } else {
                "a"
            }
        ));
    }
    let rows = rows(entry.resources, ("access", entry.id), names);
    Ok(Access {
        id: entry.id,
        kind,
        email: entry.specifier.email,
        name: entry.specifier.name,
        specifier_id: entry.specifier.id,
        two_factor: entry.specifier.two_factor_authentication_enabled,
        rows,
    })
}

/// The rows of `owner` (`("access", 7)`, `("token", 9)`) as the model holds them, in a
/// list of their own length (reusing the decoded one would keep the room serde grew it
/// to). Type names of one vocabulary alone go into `names`.
fn rows(decoded: Vec<RowWire<'_>>, owner: (&str, u64), names: &mut VocabularyNames) -> Vec<Row> {
    let mut rows = Vec::with_capacity(decoded.len());
    rows.extend(decoded.into_iter().map(|row| {
        if let Some(vocabulary) = Vocabulary::of_name(&row.resource_type) {
            (names.entry(vocabulary)).or_insert_with(|| {
                format!(
                    "a row of {} {} has type {:?}",
                    owner.0, owner.1, row.resource_type
                )
            });
        }
        Row {
            resource: ResourceKey::new(ResourceType::from_api(&row.resource_type), row.resource_id),
            level: LevelCode(row.access_level),
        }
    }));
    rows
}

/// One entry of `GET .../api_tokens`. `token` is not a field: reads never carry it, and
/// if one did it would be skipped, not stored.
#[derive(Deserialize)]
pub(crate) struct TokenWire<'a> {
    id: u64,
    name: String,
    #[serde(default)]
    last_4_digits: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(borrow, default)]
    resources: Vec<RowWire<'a>>,
}

/// Convert one token of the list; `in_use_ends_with` is the last four characters of the
/// token this tool runs with. Type names of one vocabulary alone go into `names`.
pub(crate) fn token(
    entry: TokenWire<'_>,
    in_use_ends_with: &str,
    names: &mut VocabularyNames,
) -> Result<Token, String> {
    let expires_at = entry
        .expires_at
        .as_deref()
        .map(|text| {
            text.parse::<jiff::Timestamp>().map_err(|_| {
                format!(
                    "token {} has expires_at {:?}, which is not an ISO 8601 date-time",
                    entry.id,
                    crate::model::printable(text)
                )
            })
        })
        .transpose()?;
    let rows = rows(entry.resources, ("token", entry.id), names);
    Ok(Token {
        id: entry.id,
        // Without its last four digits, it may be the one in use: never touched.
        in_use: (entry.last_4_digits.as_deref()).is_none_or(|last| last == in_use_ends_with),
        name: entry.name,
        expires_at,
        rows,
    })
}

/// Flatten the nested tree; inboxes are named `Project/Inbox` after their parent. Type
/// names of one vocabulary alone go into `names`.
pub(crate) fn resources(
    nodes: Vec<ResourceNodeWire>,
    names: &mut VocabularyNames,
) -> Vec<Resource> {
    let mut flat = Vec::new();
    let mut stack: Vec<(ResourceNodeWire, Option<String>)> =
        nodes.into_iter().rev().map(|node| (node, None)).collect();
    while let Some((node, parent_project)) = stack.pop() {
        if let Some(vocabulary) = Vocabulary::of_name(&node.kind) {
            (names.entry(vocabulary))
                .or_insert_with(|| format!("{} {} {:?}", node.kind, node.id, node.name));
        }
        let kind = ResourceType::from_api(&node.kind);
        let path = match (&kind, &parent_project) {
            (ResourceType::Inbox, Some(project)) => format!("{project}/{}", node.name),
            _ => node.name.clone(),
        };
        let children_parent = if kind == ResourceType::Project {
            Some(node.name.clone())
        } else {
            parent_project
        };
        for child in node.resources.into_iter().rev().flatten() {
            stack.push((child, children_parent.clone()));
        }
        flat.push(Resource {
            key: ResourceKey::new(kind, node.id),
            name: node.name,
            path,
        });
    }
    flat
}
