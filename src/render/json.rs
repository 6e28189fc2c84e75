//! The plan as versioned JSON (`plan --format json`), for programs: every operation, the
//! exact requests apply sends (taken from [`Plan::requests`], never recomputed), what is
//! left alone, warnings with a machine-readable kind, the safety rails apply will refuse
//! it by, and the summary. The view types here are the format; the core plan types stay
//! free of serialization concerns. Saved plans (`plan --out`) are this document plus a
//! fingerprint, so the types also deserialize.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::model::{Level, SpecifierKind};
use crate::plan::{
    AccessRef, Change, LeftAlone, LeftAloneReason, Plan, Request, ResourceRef, RowOp, Summary,
    Warning,
};
use crate::rails::Refusal;

/// The version of the JSON plan format. Bumped on any change that is not an addition.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// The whole document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanReport {
    pub format_version: u32,
    pub account_id: u64,
    /// Whether apply would send anything.
    pub changes: bool,
    pub summary: Summary,
    /// One entry per access apply sends a request for, in plan order.
    pub accesses: Vec<AccessChangeView>,
    pub left_alone: Vec<LeftAloneView>,
    pub warnings: Vec<WarningView>,
    /// The safety rails ([`crate::rails`]) the plan breaks, checked without overrides:
    /// what `apply` will refuse unless told otherwise.
    pub rails: Vec<RailView>,
}

/// Who holds an access: `type` is the API's specifier type; persons carry `email`,
/// tokens `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecifierView {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl SpecifierView {
    fn of(access: &AccessRef) -> SpecifierView {
        let (email, name) = if access.kind.is_person() {
            (Some(access.label.clone()), None)
        } else {
            (None, Some(access.label.clone()))
        };
        SpecifierView {
            kind: access.kind.api_name().to_string(),
            email,
            name,
        }
    }

    /// The email or name, for messages.
    pub fn label(&self) -> &str {
        self.email
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or("?")
    }

    /// The core type back, for the apply of a saved plan.
    pub fn kind(&self) -> SpecifierKind {
        SpecifierKind::from_api(&self.kind)
    }
}

/// A resource: the API's type name, its id, and its name when the tree has it
/// (`Project/Inbox` for inboxes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceView {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: u64,
    pub name: Option<String>,
}

impl From<&ResourceRef> for ResourceView {
    fn from(resource: &ResourceRef) -> Self {
        ResourceView {
            kind: resource.key.kind.api_name().to_string(),
            id: resource.key.id,
            name: resource.name.clone(),
        }
    }
}

/// A level: `"admin"` or `"viewer"` by name, any other code (owner 1000, viewer+ 50,
/// indeterminate 1) as its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LevelView {
    Name(String),
    Code(u32),
}

impl LevelView {
    fn of_code(code: u32) -> LevelView {
        match Level::from_code(code) {
            Some(level) => LevelView::of(level),
            None => LevelView::Code(code),
        }
    }

    fn of(level: Level) -> LevelView {
        LevelView::Name(level.name().to_string())
    }
}

impl std::fmt::Display for LevelView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LevelView::Name(name) => f.write_str(name),
            LevelView::Code(code) => f.write_str(&crate::model::level_code_name(*code)),
        }
    }
}

/// What happens to one access, and the one request that does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessChangeView {
    pub access_id: u64,
    pub specifier: SpecifierView,
    /// `update_permissions` (one bulk PUT) or `remove_access` (one DELETE).
    pub action: String,
    /// Row operations; for `remove_access`, the rows the access holds, each `remove`.
    pub operations: Vec<OperationView>,
    /// Exactly what apply sends: `method`, `path` and, for PUT, `body`.
    pub request: RequestView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationView {
    /// `create`, `update`, `destroy` or `remove`.
    pub operation: String,
    pub resource: ResourceView,
    pub from: Option<LevelView>,
    pub to: Option<LevelView>,
}

/// A request exactly as [`Request`] serializes (it is converted through that
/// serialization, and unknown fields are refused, so the two cannot drift apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestView {
    /// `PUT` (bulk update) or `DELETE` (remove the access).
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BulkBodyView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBodyView {
    pub permissions: Vec<BulkPermissionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkPermissionView {
    pub resource_id: String,
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_level: Option<String>,
    #[serde(rename = "_destroy", default, skip_serializing_if = "Option::is_none")]
    pub destroy: Option<bool>,
}

impl From<&Request> for RequestView {
    fn from(request: &Request) -> Self {
        let value = serde_json::to_value(request).expect("a request always serializes");
        serde_json::from_value(value).expect("the request view mirrors the request's fields")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftAloneView {
    pub access_id: u64,
    pub specifier: SpecifierView,
    /// `owner`, `unmanaged_row`, `not_in_file` or `holds_unmanaged_rows`.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<LevelView>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarningView {
    /// `not_in_account`, `token_not_listed`, `owner_in_file` or `level_not_managed`.
    pub kind: String,
    /// The sentence the text format prints.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specifier: Option<SpecifierView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<LevelView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wanted: Option<LevelView>,
}

impl PlanReport {
    pub fn new(plan: &Plan, refusals: &[Refusal]) -> PlanReport {
        let accesses = plan
            .changes
            .iter()
            .zip(plan.requests())
            .map(|((access, change), (_, request))| access_change(access, change, &request))
            .collect();
        PlanReport {
            format_version: JSON_FORMAT_VERSION,
            account_id: plan.account_id,
            changes: !plan.is_empty(),
            summary: plan.summary(),
            accesses,
            left_alone: plan.left_alone.iter().map(left_alone).collect(),
            warnings: plan.warnings.iter().map(warning).collect(),
            rails: refusals.iter().map(RailView::from).collect(),
        }
    }
}

/// A rail the plan breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RailView {
    /// `mass_row_removal`, `mass_access_removal`, `empty_desired_file`,
    /// `empty_live_listing` or `too_few_account_admins`.
    pub rail: String,
    /// Whether `apply --allow-mass-removal` lifts it.
    pub overridable: bool,
    pub message: String,
}

impl From<&Refusal> for RailView {
    fn from(refusal: &Refusal) -> Self {
        let (rail, overridable) = match refusal {
            Refusal::MassRowRemoval { .. } => ("mass_row_removal", true),
            Refusal::MassAccessRemoval { .. } => ("mass_access_removal", true),
            Refusal::EmptyDesiredFile => ("empty_desired_file", true),
            Refusal::EmptyLiveListing => ("empty_live_listing", true),
            Refusal::TooFewAccountAdmins { .. } => ("too_few_account_admins", false),
        };
        RailView {
            rail: rail.to_string(),
            overridable,
            message: refusal.to_string(),
        }
    }
}

fn access_change(access: &AccessRef, change: &Change, request: &Request) -> AccessChangeView {
    let (action, operations) = match change {
        Change::Permissions(ops) => ("update_permissions", ops.iter().map(operation).collect()),
        Change::Remove { rows } => (
            "remove_access",
            rows.iter()
                .map(|row| OperationView {
                    operation: "remove".to_string(),
                    resource: (&row.resource).into(),
                    from: Some(LevelView::of_code(row.level)),
                    to: None,
                })
                .collect(),
        ),
    };
    AccessChangeView {
        access_id: access.id,
        specifier: SpecifierView::of(access),
        action: action.to_string(),
        operations,
        request: request.into(),
    }
}

fn operation(op: &RowOp) -> OperationView {
    let (name, from, to) = match op {
        RowOp::Create { to, .. } => ("create", None, Some(*to)),
        RowOp::Update { from, to, .. } => ("update", Some(*from), Some(*to)),
        RowOp::Destroy { from, .. } => ("destroy", Some(*from), None),
    };
    OperationView {
        operation: name.to_string(),
        resource: op.resource().into(),
        from: from.map(LevelView::of),
        to: to.map(LevelView::of),
    }
}

fn left_alone(item: &LeftAlone) -> LeftAloneView {
    let (reason, resource, level) = match &item.reason {
        LeftAloneReason::Owner => ("owner", None, None),
        LeftAloneReason::UnmanagedRow { resource, level } => (
            "unmanaged_row",
            Some(resource.into()),
            Some(LevelView::of_code(*level)),
        ),
        LeftAloneReason::NotInFile => ("not_in_file", None, None),
        LeftAloneReason::HoldsUnmanagedRows => ("holds_unmanaged_rows", None, None),
    };
    LeftAloneView {
        access_id: item.access.id,
        specifier: SpecifierView::of(&item.access),
        reason: reason.to_string(),
        resource,
        level,
        message: item.reason.to_string(),
    }
}

fn warning(warning: &Warning) -> WarningView {
    let mut view = WarningView {
        kind: String::new(),
        message: warning.to_string(),
        email: None,
        name: None,
        access_id: None,
        specifier: None,
        resource: None,
        current: None,
        wanted: None,
    };
    match warning {
        Warning::NotInAccount { email } => {
            view.kind = "not_in_account".to_string();
            view.email = Some(email.clone());
        }
        Warning::TokenNotListed { name } => {
            view.kind = "token_not_listed".to_string();
            view.name = Some(name.clone());
        }
        Warning::OwnerInFile { access } => {
            view.kind = "owner_in_file".to_string();
            view.access_id = Some(access.id);
            view.specifier = Some(SpecifierView::of(access));
        }
        Warning::LevelNotManaged {
            access,
            resource,
            current,
            wanted,
        } => {
            view.kind = "level_not_managed".to_string();
            view.access_id = Some(access.id);
            view.specifier = Some(SpecifierView::of(access));
            view.resource = Some(resource.into());
            view.current = Some(LevelView::of_code(*current));
            view.wanted = Some(LevelView::of(*wanted));
        }
    }
    view
}

/// `plan --format json`: the document, pretty-printed, with a final newline.
pub fn plan_json(plan: &Plan, refusals: &[Refusal], out: &mut impl Write) -> io::Result<()> {
    write_json(&PlanReport::new(plan, refusals), out)
}

/// Any serializable document, pretty-printed, with a final newline.
pub fn write_json(document: &impl Serialize, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, document).map_err(io::Error::other)?;
    writeln!(out)
}
