//! The JSON shapes of the two reads, decoded strictly into the model. Fields the tool
//! does not use are skipped, and an API token's `token` is not a field here at all, so
//! the secret is never stored anywhere in the process.

use std::fmt;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::model::{Access, Resource, ResourceKey, ResourceType, Row, SpecifierKind};

#[derive(Deserialize)]
pub(crate) struct AccessWire {
    id: u64,
    specifier_type: String,
    specifier: SpecifierWire,
    #[serde(deserialize_with = "rows_to_size")]
    resources: Vec<RowWire>,
}

/// Rows, shrunk to size as soon as each access is decoded. The list grows by doubling
/// (the body does not say how many rows follow), and across a big account the slack is
/// as large as the rows themselves: shrunk only after the whole listing, it would all
/// be held at once, beside the body, at the process's peak of memory.
fn rows_to_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<RowWire>, D::Error> {
    let mut rows = Vec::<RowWire>::deserialize(deserializer)?;
    rows.shrink_to_fit();
    Ok(rows)
}

#[derive(Deserialize)]
struct SpecifierWire {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RowWire {
    #[serde(deserialize_with = "integer_or_numeric_string")]
    resource_id: u64,
    #[serde(deserialize_with = "resource_type")]
    resource_type: ResourceType,
    access_level: u32,
}

/// Read a type name without allocating for the types the tool knows: a big listing holds
/// hundreds of thousands of rows.
fn resource_type<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ResourceType, D::Error> {
    let name: std::borrow::Cow<'de, str> = Deserialize::deserialize(deserializer)?;
    Ok(ResourceType::from_api(&name))
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
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(u64),
        Text(String),
    }
    match Id::deserialize(deserializer)? {
        Id::Number(id) => Ok(id),
        Id::Text(text) => text
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("resource_id {text:?} is not a number"))),
    }
}

/// The top of an account listing: a list whose entries are handed to a callback one by
/// one as they are decoded, never collected here. A caller can thus work on each
/// access while the rest of the body is still being decoded.
pub(crate) struct EachAccess<F>(pub F);

impl<'de, F: FnMut(AccessWire)> DeserializeSeed<'de> for EachAccess<F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(AccessWire)> Visitor<'de> for EachAccess<F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // What serde says for a list, so the messages read as a whole-list decode's would.
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut entries: A) -> Result<(), A::Error> {
        while let Some(entry) = entries.next_element()? {
            (self.0)(entry);
        }
        Ok(())
    }
}

/// Convert the entry at `index` of the listing, checking what serde cannot: a person
/// must have an email.
pub(crate) fn access(index: usize, entry: AccessWire) -> Result<Access, String> {
    let kind = SpecifierKind::from_api(&entry.specifier_type);
    if kind.is_person() && entry.specifier.email.as_deref().is_none_or(str::is_empty) {
        return Err(format!(
            "entry {index} (access {}) is a {kind} without an email",
            entry.id
        ));
    }
    let rows: Vec<Row> = entry
        .resources
        .into_iter()
        .map(|row| Row {
            resource: ResourceKey::new(row.resource_type, row.resource_id),
            level: row.access_level,
        })
        .collect();
    Ok(Access {
        id: entry.id,
        kind,
        email: entry.specifier.email,
        name: entry.specifier.name,
        rows,
    })
}

/// Flatten the nested tree; inboxes are named `Project/Inbox` after their parent.
pub(crate) fn resources(nodes: Vec<ResourceNodeWire>) -> Vec<Resource> {
    let mut flat = Vec::new();
    let mut stack: Vec<(ResourceNodeWire, Option<String>)> =
        nodes.into_iter().rev().map(|node| (node, None)).collect();
    while let Some((node, parent_project)) = stack.pop() {
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
