//! The plan: every change `apply` would make, as data. It is computed whole before
//! anything is sent, rendered for review, and executed as is. The request each change
//! becomes (path and exact bulk body) is derived here and nowhere else, so what the plan
//! shows is what apply sends.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::model::{level_code_name, Level, ResourceKey, SpecifierKind};
use crate::resolve::noun;

/// All changes for one account, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub account_id: u64,
    /// One entry per access that needs a request: a bulk PUT or a DELETE.
    pub changes: BTreeMap<AccessRef, Change>,
    /// What the plan deliberately does not touch, so that a reviewer sees it.
    pub left_alone: Vec<LeftAlone>,
    pub warnings: Vec<Warning>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in self.changes.values() {
            match change {
                Change::Permissions(ops) => {
                    for op in ops {
                        match op {
                            RowOp::Create { .. } => summary.create += 1,
                            RowOp::Update { .. } => summary.update += 1,
                            RowOp::Destroy { .. } => summary.destroy += 1,
                        }
                    }
                }
                Change::Remove { .. } => summary.remove += 1,
            }
        }
        summary
    }

    /// The requests apply sends, in order: exactly one per changed access.
    pub fn requests(&self) -> impl Iterator<Item = (&AccessRef, Request)> + '_ {
        self.changes
            .iter()
            .map(|(access, change)| (access, change.request(self.account_id, access.id)))
    }
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub destroy: usize,
    pub remove: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to create, {} to update, {} to destroy, {} {} to remove",
            self.create,
            self.update,
            self.destroy,
            self.remove,
            if self.remove == 1 {
                "access"
            } else {
                "accesses"
            }
        )
    }
}

/// Which access a change is for. Ordered by label, so output is alphabetical.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessRef {
    /// Email of a user or invite, name of a token.
    pub label: String,
    pub kind: SpecifierKind,
    pub id: u64,
}

impl fmt::Display for AccessRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, access {})", self.label, self.kind, self.id)
    }
}

/// A resource as the plan shows it: its key and, when the tree has it, its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceRef {
    pub key: ResourceKey,
    /// `Project/Inbox` for inboxes; None when the resource is not in the tree.
    pub name: Option<String>,
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} {name:?} (id {})", noun(&self.key.kind), self.key.id),
            None => write!(f, "{} id {}", noun(&self.key.kind), self.key.id),
        }
    }
}

/// What happens to one access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Rows to create, update or destroy, sent as one bulk PUT.
    Permissions(Vec<RowOp>),
    /// The whole access is deleted (`unmanaged: remove`); the rows it held, for review.
    Remove { rows: Vec<HeldRow> },
}

impl Change {
    pub fn request(&self, account_id: u64, access_id: u64) -> Request {
        let path =
            |tail: &str| format!("/api/accounts/{account_id}/account_accesses/{access_id}{tail}");
        match self {
            Change::Permissions(ops) => Request::BulkUpdate {
                path: path("/permissions/bulk"),
                body: BulkBody {
                    permissions: ops.iter().map(RowOp::bulk_item).collect(),
                },
            },
            Change::Remove { .. } => Request::DeleteAccess { path: path("") },
        }
    }
}

/// A row an access holds, as shown when the access is removed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldRow {
    pub resource: ResourceRef,
    pub level: u32,
}

/// One row operation inside a bulk update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOp {
    Create {
        resource: ResourceRef,
        to: Level,
    },
    Update {
        resource: ResourceRef,
        from: Level,
        to: Level,
    },
    Destroy {
        resource: ResourceRef,
        from: Level,
    },
}

impl RowOp {
    pub fn resource(&self) -> &ResourceRef {
        match self {
            RowOp::Create { resource, .. }
            | RowOp::Update { resource, .. }
            | RowOp::Destroy { resource, .. } => resource,
        }
    }

    /// The entry of the bulk body: `resource_id` as a string and the level by name, as
    /// the contract and the official SDKs send them; `_destroy` only ever as `true`.
    fn bulk_item(&self) -> BulkPermission {
        let key = &self.resource().key;
        let (access_level, destroy) = match self {
            RowOp::Create { to, .. } | RowOp::Update { to, .. } => (Some(to.name()), None),
            RowOp::Destroy { .. } => (None, Some(true)),
        };
        BulkPermission {
            resource_id: key.id.to_string(),
            resource_type: key.kind.to_api_name(),
            access_level,
            destroy,
        }
    }
}

/// An HTTP request apply will send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method")]
pub enum Request {
    #[serde(rename = "PUT")]
    BulkUpdate { path: String, body: BulkBody },
    #[serde(rename = "DELETE")]
    DeleteAccess { path: String },
}

impl Request {
    /// `METHOD path`, for messages.
    pub fn describe(&self) -> String {
        match self {
            Request::BulkUpdate { path, .. } => format!("PUT {path}"),
            Request::DeleteAccess { path } => format!("DELETE {path}"),
        }
    }
}

/// The body of `PUT .../permissions/bulk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkBody {
    pub permissions: Vec<BulkPermission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkPermission {
    pub resource_id: String,
    pub resource_type: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_level: Option<&'static str>,
    #[serde(rename = "_destroy", skip_serializing_if = "Option::is_none")]
    pub destroy: Option<bool>,
}

/// Something the plan sees and deliberately does not change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeftAlone {
    pub access: AccessRef,
    pub reason: LeftAloneReason,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LeftAloneReason {
    /// The account owner's access is never changed.
    Owner,
    /// A row of a type or level the tool does not manage.
    UnmanagedRow { resource: ResourceRef, level: u32 },
    /// In the account, not in the file, and `unmanaged: ignore`.
    NotInFile,
    /// Not in the file under `unmanaged: remove`, but it holds rows the tool does not
    /// manage, so deleting the access would destroy them.
    HoldsUnmanagedRows,
}

impl fmt::Display for LeftAloneReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeftAloneReason::Owner => f.write_str("account owner: never changed"),
            LeftAloneReason::UnmanagedRow { resource, level } => write!(
                f,
                "{resource} at {}: not managed by this tool",
                level_code_name(*level)
            ),
            LeftAloneReason::NotInFile => f.write_str("not in the file (unmanaged: ignore)"),
            LeftAloneReason::HoldsUnmanagedRows => {
                f.write_str("not in the file, but kept: it holds rows this tool does not manage")
            }
        }
    }
}

/// Something a reviewer must know; nothing is sent because of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Warning {
    /// A user in the file who is neither a user nor an invite of the account.
    NotInAccount { email: String },
    /// A token in the file that the account listing does not show.
    TokenNotListed { name: String },
    /// The owner is listed with grants; they are not applied.
    OwnerInFile { access: AccessRef },
    /// The file wants a level on a resource where the access holds a level the tool
    /// does not manage (viewer+, indeterminate): the row is left as it is.
    LevelNotManaged {
        access: AccessRef,
        resource: ResourceRef,
        current: u32,
        wanted: Level,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::NotInAccount { email } => write!(
                f,
                "{email} is not in the account: the API cannot create users; invite them in Mailtrap first. Nothing is sent for them."
            ),
            Warning::TokenNotListed { name } => write!(
                f,
                "API token {name:?} is not in the account listing (Mailtrap lists users and invites only); nothing is sent for it."
            ),
            Warning::OwnerInFile { access } => write!(
                f,
                "{access} is the account owner: the owner's access is never changed; its grants in the file are ignored."
            ),
            Warning::LevelNotManaged {
                access,
                resource,
                current,
                wanted,
            } => write!(
                f,
                "{access}: {resource} is at {}, which this tool does not manage; the file's {wanted} is not applied.",
                level_code_name(*current)
            ),
        }
    }
}
