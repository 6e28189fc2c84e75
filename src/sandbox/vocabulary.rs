//! The two sets of names Mailtrap has used for the same things: the old vocabulary of
//! the account-scoped contract (`inbox`, `sending_domain`, filter `inbox_ids`) and the
//! new one of the 2026 OpenAPI (`sandbox`, `domain`, filter `sandbox_ids`). This file
//! owns the translation between them and the serialization of the tree, the listing
//! and the API tokens in the vocabulary served. The state is stored once, in the canonical (old) names,
//! and translated only here, at the edges, so one seed serves in either vocabulary.

use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use std::borrow::Borrow;

use super::api_tokens::{ApiTokenRecord, TokenResource};
use super::state::{
    write_in_service_order, AccessRow, AccountAccess, InServiceOrderMap, ResourceNode,
};

/// Which names a sandbox speaks on the wire: in the resource tree, in every row of the
/// listing, in the bulk body it accepts and in the list filter for inboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum Vocabulary {
    /// `inbox`, `sending_domain`, filter `inbox_ids`: the contract's names.
    #[default]
    Old,
    /// `sandbox`, `domain`, filter `sandbox_ids`: the 2026 OpenAPI's names.
    New,
}

/// `(canonical, new)` for every type whose name differs between the vocabularies.
/// Everything else (`account`, `project`, `email_template_permission_scope`, ...) is
/// spelled the same in both.
pub(super) const RENAMED: [(&str, &str); 2] = [("inbox", "sandbox"), ("sending_domain", "domain")];

impl Vocabulary {
    pub fn as_str(self) -> &'static str {
        match self {
            Vocabulary::Old => "old",
            Vocabulary::New => "new",
        }
    }

    /// How this vocabulary spells a type stored under its canonical (old) name.
    pub fn served_name(self, canonical: &str) -> &str {
        match self {
            Vocabulary::Old => canonical,
            Vocabulary::New => RENAMED
                .iter()
                .find(|(old, _)| *old == canonical)
                .map_or(canonical, |(_, new)| new),
        }
    }

    /// The canonical name of a type as a client wrote it in this vocabulary; `None` for
    /// the other vocabulary's spelling of a renamed type, which this one does not know.
    /// Names that are the same in both pass through.
    pub fn canonical_name(self, served: &str) -> Option<&str> {
        let (foreign, translated) = match self {
            Vocabulary::Old => (RENAMED.iter().find(|(_, new)| *new == served), None),
            Vocabulary::New => (
                RENAMED.iter().find(|(old, _)| *old == served),
                RENAMED
                    .iter()
                    .find(|(_, new)| *new == served)
                    .map(|(old, _)| *old),
            ),
        };
        match (foreign, translated) {
            (Some(_), _) => None,
            (None, Some(canonical)) => Some(canonical),
            (None, None) => Some(served),
        }
    }

    /// The resource types a bulk update may write, as this vocabulary spells them: the
    /// contract's six, never `organization` or `email_template_permission_scope`.
    pub fn writable_resource_types(self) -> [&'static str; 6] {
        super::state::WRITABLE_RESOURCE_TYPES.map(|canonical| match self {
            Vocabulary::Old => canonical,
            Vocabulary::New => RENAMED
                .iter()
                .find(|(old, _)| *old == canonical)
                .map_or(canonical, |(_, new)| *new),
        })
    }

    /// The resource types an API token can hold, as this vocabulary spells them.
    pub fn token_resource_types(self) -> [&'static str; 4] {
        super::api_tokens::TOKEN_RESOURCE_TYPES.map(|canonical| match self {
            Vocabulary::Old => canonical,
            Vocabulary::New => RENAMED
                .iter()
                .find(|(old, _)| *old == canonical)
                .map_or(canonical, |(_, new)| *new),
        })
    }

    /// The list filter for inboxes: `inbox_ids` or `sandbox_ids`.
    pub fn inbox_filter(self) -> &'static str {
        match self {
            Vocabulary::Old => "inbox_ids",
            Vocabulary::New => "sandbox_ids",
        }
    }
}

impl fmt::Display for Vocabulary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resource tree as served: the stored nodes with their types in `vocabulary`.
/// Serialized straight from the state, so a big tree is not copied to be renamed.
pub(super) struct ServedTree<'a> {
    pub nodes: &'a [ResourceNode],
    pub vocabulary: Vocabulary,
}

impl Serialize for ServedTree<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.nodes.len()))?;
        for node in self.nodes {
            seq.serialize_element(&ServedNode(node, self.vocabulary))?;
        }
        seq.end()
    }
}

struct ServedNode<'a>(&'a ResourceNode, Vocabulary);

impl Serialize for ServedNode<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ServedNode(node, vocabulary) = *self;
        // The field order of `ResourceNode`'s derived form, extra fields last.
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &node.id)?;
        map.serialize_entry("name", &node.name)?;
        map.serialize_entry("type", vocabulary.served_name(&node.resource_type))?;
        map.serialize_entry("access_level", &node.access_level)?;
        map.serialize_entry(
            "resources",
            &ServedTree {
                nodes: &node.resources,
                vocabulary,
            },
        )?;
        write_in_service_order(&node.extra, &mut map)?;
        map.end()
    }
}

/// Entries of the accesses list as served: every row's type in `vocabulary`, every
/// other field exactly as stored (and in the service's key order).
pub(super) struct ServedAccesses<'a, A> {
    pub accesses: &'a [A],
    pub vocabulary: Vocabulary,
}

impl<A: Borrow<AccountAccess>> Serialize for ServedAccesses<'_, A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.accesses.len()))?;
        for access in self.accesses {
            seq.serialize_element(&ServedAccess(access.borrow(), self.vocabulary))?;
        }
        seq.end()
    }
}

struct ServedAccess<'a>(&'a AccountAccess, Vocabulary);

impl Serialize for ServedAccess<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ServedAccess(access, vocabulary) = *self;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &access.id)?;
        map.serialize_entry("specifier_type", &access.specifier_type)?;
        map.serialize_entry("resources", &ServedRows(&access.resources, vocabulary))?;
        map.serialize_entry("specifier", &InServiceOrderMap(&access.specifier))?;
        write_in_service_order(&access.extra, &mut map)?;
        map.end()
    }
}

struct ServedRows<'a>(&'a [AccessRow], Vocabulary);

impl Serialize for ServedRows<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ServedRows(rows, vocabulary) = *self;
        let mut seq = serializer.serialize_seq(Some(rows.len()))?;
        for row in rows {
            seq.serialize_element(&ServedRow(row, vocabulary))?;
        }
        seq.end()
    }
}

struct ServedRow<'a>(&'a AccessRow, Vocabulary);

impl Serialize for ServedRow<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ServedRow(row, vocabulary) = *self;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("resource_type", vocabulary.served_name(&row.resource_type))?;
        map.serialize_entry("resource_id", &row.resource_id)?;
        map.serialize_entry("access_level", &row.access_level)?;
        write_in_service_order(&row.extra, &mut map)?;
        map.end()
    }
}

/// Which answer a token is served in. Only create and reset carry the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenAnswer {
    /// `GET .../api_tokens[/{id}]`: `{id, name, last_4_digits, created_by, expires_at,
    /// resources}`.
    Read,
    /// `POST .../api_tokens`: the recorded create's keys and order, `{resources, id,
    /// name, last_4_digits, created_by, expires_at, token}`.
    Created,
    /// `POST .../api_tokens/{id}/reset`: as a create without `last_4_digits` and
    /// `created_by`, which the recorded reset left out.
    Reset,
}

/// One token as served, its resource types in `vocabulary`.
pub(super) struct ServedToken<'a> {
    pub token: &'a ApiTokenRecord,
    pub vocabulary: Vocabulary,
    pub answer: TokenAnswer,
}

impl Serialize for ServedToken<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let token = self.token;
        let resources = ServedTokenResources(&token.resources, self.vocabulary);
        let mut map = serializer.serialize_map(None)?;
        if self.answer != TokenAnswer::Read {
            map.serialize_entry("resources", &resources)?;
        }
        map.serialize_entry("id", &token.id)?;
        map.serialize_entry("name", &token.name)?;
        if self.answer != TokenAnswer::Reset {
            map.serialize_entry("last_4_digits", &token.last_4_digits())?;
            map.serialize_entry("created_by", &token.created_by)?;
        }
        map.serialize_entry("expires_at", &token.expires_at)?;
        match self.answer {
            TokenAnswer::Read => map.serialize_entry("resources", &resources)?,
            TokenAnswer::Created | TokenAnswer::Reset => {
                map.serialize_entry("token", &token.token)?
            }
        }
        map.end()
    }
}

/// `GET .../api_tokens`: every token, read-shaped (no secrets).
pub(super) struct ServedTokens<'a> {
    pub tokens: &'a [ApiTokenRecord],
    pub vocabulary: Vocabulary,
}

impl Serialize for ServedTokens<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.tokens.len()))?;
        for token in self.tokens {
            seq.serialize_element(&ServedToken {
                token,
                vocabulary: self.vocabulary,
                answer: TokenAnswer::Read,
            })?;
        }
        seq.end()
    }
}

struct ServedTokenResources<'a>(&'a [TokenResource], Vocabulary);

impl Serialize for ServedTokenResources<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ServedTokenResources(resources, vocabulary) = *self;
        let mut seq = serializer.serialize_seq(Some(resources.len()))?;
        for resource in resources {
            seq.serialize_element(&TokenResource {
                resource_type: vocabulary.served_name(&resource.resource_type).to_owned(),
                ..resource.clone()
            })?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::SandboxState;

    #[test]
    fn names_translate_both_ways_and_refuse_the_other_vocabulary() {
        assert_eq!(Vocabulary::New.served_name("inbox"), "sandbox");
        assert_eq!(Vocabulary::New.served_name("sending_domain"), "domain");
        assert_eq!(Vocabulary::New.served_name("project"), "project");
        assert_eq!(Vocabulary::Old.served_name("inbox"), "inbox");
        assert_eq!(Vocabulary::New.canonical_name("sandbox"), Some("inbox"));
        assert_eq!(
            Vocabulary::New.canonical_name("domain"),
            Some("sending_domain")
        );
        assert_eq!(Vocabulary::New.canonical_name("inbox"), None);
        assert_eq!(Vocabulary::New.canonical_name("sending_domain"), None);
        assert_eq!(Vocabulary::Old.canonical_name("sandbox"), None);
        assert_eq!(Vocabulary::Old.canonical_name("domain"), None);
        assert_eq!(Vocabulary::Old.canonical_name("inbox"), Some("inbox"));
        for vocabulary in [Vocabulary::Old, Vocabulary::New] {
            assert_eq!(vocabulary.canonical_name("galaxy"), Some("galaxy"));
            for name in vocabulary.writable_resource_types() {
                let canonical = vocabulary.canonical_name(name).unwrap();
                assert_eq!(vocabulary.served_name(canonical), name);
            }
        }
        assert_eq!(
            Vocabulary::New.token_resource_types(),
            ["account", "project", "sandbox", "domain"]
        );
        assert_eq!(
            Vocabulary::Old.token_resource_types(),
            ["account", "project", "inbox", "sending_domain"]
        );
        assert_eq!(
            Vocabulary::New.writable_resource_types(),
            [
                "account",
                "billing",
                "project",
                "sandbox",
                "domain",
                "email_campaign_permission_scope"
            ]
        );
    }

    #[test]
    fn tokens_are_served_in_each_answers_shape_and_the_vocabulary() {
        let mut demo = SandboxState::demo();
        demo.api_tokens[0].resources.push(TokenResource {
            resource_type: "inbox".into(),
            resource_id: 4400101,
            access_level: 100,
        });
        let token = &demo.api_tokens[0];
        let served = |answer, vocabulary| {
            serde_json::to_string(&ServedToken {
                token,
                vocabulary,
                answer,
            })
            .unwrap()
        };
        let resources = r#"[{"resource_type":"project","resource_id":3301001,"access_level":10},{"resource_type":"sandbox","resource_id":4400101,"access_level":100}]"#;
        assert_eq!(
            served(TokenAnswer::Read, Vocabulary::New),
            format!(
                r#"{{"id":61001,"name":"CI deploy","last_4_digits":"2e8c","created_by":"Alice Admin","expires_at":"2027-06-30T23:59:59.000Z","resources":{resources}}}"#
            )
        );
        assert_eq!(
            served(TokenAnswer::Created, Vocabulary::New),
            format!(
                r#"{{"resources":{resources},"id":61001,"name":"CI deploy","last_4_digits":"2e8c","created_by":"Alice Admin","expires_at":"2027-06-30T23:59:59.000Z","token":"4f1c9a7e2b3d8f6a0c5e9b1d7a3f2e8c"}}"#
            )
        );
        assert_eq!(
            served(TokenAnswer::Reset, Vocabulary::Old),
            format!(
                r#"{{"resources":{},"id":61001,"name":"CI deploy","expires_at":"2027-06-30T23:59:59.000Z","token":"4f1c9a7e2b3d8f6a0c5e9b1d7a3f2e8c"}}"#,
                resources.replace("sandbox", "inbox")
            )
        );
        let listing = serde_json::to_string(&ServedTokens {
            tokens: &demo.api_tokens,
            vocabulary: Vocabulary::Old,
        })
        .unwrap();
        assert!(!listing.contains(r#""token""#), "{listing}");
        assert!(listing.contains(r#""expires_at":null"#), "{listing}");
        for token in &demo.api_tokens {
            assert!(!listing.contains(&token.token), "{listing}");
        }
    }

    /// The old vocabulary's wire form is exactly the stored (derived) form, so the
    /// served shape cannot drift from the state file's.
    #[test]
    fn the_old_vocabulary_serializes_exactly_as_stored() {
        let demo = SandboxState::demo();
        let tree = ServedTree {
            nodes: &demo.resources,
            vocabulary: Vocabulary::Old,
        };
        assert_eq!(
            serde_json::to_string(&tree).unwrap(),
            serde_json::to_string(&demo.resources).unwrap()
        );
        let accesses = ServedAccesses {
            accesses: &demo.accesses,
            vocabulary: Vocabulary::Old,
        };
        assert_eq!(
            serde_json::to_string(&accesses).unwrap(),
            serde_json::to_string(&demo.accesses).unwrap()
        );
    }

    #[test]
    fn the_new_vocabulary_renames_types_and_nothing_else() {
        let demo = SandboxState::demo();
        let served = serde_json::to_string(&ServedAccesses {
            accesses: &demo.accesses,
            vocabulary: Vocabulary::New,
        })
        .unwrap();
        let stored = serde_json::to_string(&demo.accesses).unwrap();
        assert_ne!(served, stored);
        assert_eq!(
            served,
            stored
                .replace(r#""resource_type":"inbox""#, r#""resource_type":"sandbox""#)
                .replace(
                    r#""resource_type":"sending_domain""#,
                    r#""resource_type":"domain""#
                )
        );
        let tree = serde_json::to_string(&ServedTree {
            nodes: &demo.resources,
            vocabulary: Vocabulary::New,
        })
        .unwrap();
        assert_eq!(
            tree,
            serde_json::to_string(&demo.resources)
                .unwrap()
                .replace(r#""type":"inbox""#, r#""type":"sandbox""#)
                .replace(r#""type":"sending_domain""#, r#""type":"domain""#)
        );
    }
}
