//! The live account as a desired-state file: every user and invite with its managed
//! rows, and every API token (when they were read) with its rows and expiry, named
//! rather than numbered wherever a name is unique, so that `plan` on the result shows
//! no changes. Pure; secrets are never in the model, so never in the file.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{DesiredFile, Grants, FORMAT_VERSION, ID_PREFIX};
use crate::model::{printable, LiveState, ResourceKey, ResourceType, WantedExpiry};

/// An exported file, and the notes written above it: what it cannot describe so that
/// `plan` leaves it as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub file: DesiredFile,
    pub notes: Vec<String>,
}

/// Build the desired-state file that describes `live` exactly, as far as a file can.
pub fn export(account_id: u64, live: &LiveState) -> Exported {
    let mut file = DesiredFile {
        version: FORMAT_VERSION,
        account_id: Some(account_id),
        min_account_admins: None,
        unmanaged: Default::default(),
        roles: BTreeMap::new(),
        users: BTreeMap::new(),
        unmanaged_tokens: Default::default(),
        api_tokens: BTreeMap::new(),
        ignore: Vec::new(),
        expiry_warning: None,
        policies: Default::default(),
    };
    let mut notes = Vec::new();
    let ambiguous = live.ambiguous_identities();
    let mut accesses: Vec<_> = live.accesses.iter().collect();
    accesses.sort_by_key(|access| (access.label().to_lowercase(), access.id));
    // Of several accesses one entry names (an email in any case), the first one's.
    let mut written = BTreeSet::new();
    for access in accesses {
        let Some(identity) = access.identity() else {
            continue;
        };
        let label = printable(&access.label()).into_owned();
        if let Some(ids) = ambiguous.get(&identity) {
            if ids.first() == Some(&access.id) {
                notes.push(format!(
                    "{label}: {} accesses hold different rows under this name; plan changes none of them until they agree",
                    ids.len()
                ));
            }
        }
        let mut grants = Grants::default();
        if access.is_owner() {
            notes.push(format!(
                "{label}: the account owner, never changed; listed without grants"
            ));
        } else {
            for row in &access.rows {
                let Some(level) = row.managed_level() else {
                    continue; // Left alone by plan, so not described here.
                };
                if live.resource(&row.resource).is_none() {
                    notes.push(format!(
                        "{label}: a row on {} {} that the resource tree does not show is not listed; plan leaves it alone",
                        row.resource.kind.noun(),
                        row.resource.id
                    ));
                    continue;
                }
                let name = name_for(live, &row.resource);
                grants.set(&row.resource.kind, name, level, live.dialect.vocabulary);
            }
        }
        // Tokens are described from the tokens list, below.
        if access.kind.is_person() && written.insert(identity) {
            file.users.insert(access.label(), grants);
        }
    }
    export_tokens(live, &mut file, &mut notes);
    Exported { file, notes }
}

fn export_tokens(live: &LiveState, file: &mut DesiredFile, notes: &mut Vec<String>) {
    let tokens = live.tokens.as_deref().unwrap_or_default();
    let mut shared = BTreeSet::new();
    for token in tokens {
        let label = printable(&token.name).into_owned();
        if tokens
            .iter()
            .filter(|other| other.name == token.name)
            .count()
            > 1
        {
            if shared.insert(&token.name) {
                notes.push(format!(
                    "API token {label:?}: several tokens have this name; plan changes none of them, so none is listed"
                ));
            }
            continue;
        }
        // A token plan may not replace is not described: an entry would either lose the
        // rows it cannot name or grant nothing, which the file refuses.
        let untouchable = (token.rows.iter())
            .any(|row| row.managed_level().is_none() || live.resource(&row.resource).is_none());
        if untouchable {
            notes.push(format!(
                "API token {label:?}: it holds rows this tool does not manage or the resource tree does not show, so it is not listed; plan leaves it alone"
            ));
            continue;
        }
        let mut grants = Grants::default();
        for row in &token.rows {
            let Some(level) = row.managed_level() else {
                continue;
            };
            let name = name_for(live, &row.resource);
            grants.set(&row.resource.kind, name, level, live.dialect.vocabulary);
        }
        grants.expires_at = Some(
            token
                .expires_at
                .map_or(WantedExpiry::Never, WantedExpiry::At),
        );
        file.api_tokens.insert(token.name.clone(), grants);
    }
}

/// Leave out the expiry of tokens that expired before `now`: a file may not ask for a
/// date in the past, and without one it asks for the token as it is.
pub fn drop_past_expiries(exported: &mut Exported, now: jiff::Timestamp) {
    for (name, grants) in &mut exported.file.api_tokens {
        let Some(at) = grants.expires_at.and_then(|expiry| expiry.instant()) else {
            continue;
        };
        if at <= now {
            grants.expires_at = None;
            exported.notes.push(format!(
                "API token {:?} expired on {}; its expiry is not listed",
                printable(name),
                crate::model::utc_date(at)
            ));
        }
    }
}

/// The name the file uses for `key` if exactly one resource of its type has it, else
/// `id:NNN`.
fn name_for(live: &LiveState, key: &ResourceKey) -> String {
    let by_id = format!("{ID_PREFIX}{}", key.id);
    let Some(resource) = live.resource(key) else {
        return by_id;
    };
    let same_name = live
        .resources
        .iter()
        .filter(|other| other.key.kind == key.kind && other.path == resource.path)
        .count();
    let name_is_usable =
        same_name == 1 && !resource.path.starts_with(ID_PREFIX) && !resource.path.trim().is_empty();
    let inbox_is_addressable = key.kind != ResourceType::Inbox || resource.path.contains('/');
    if name_is_usable && inbox_is_addressable {
        resource.path.clone()
    } else {
        by_id
    }
}

/// The file as YAML, with a comment on what it leaves out.
pub fn to_yaml(exported: &Exported) -> String {
    // Maps with string keys, options, lists and enums: nothing serde-saphyr refuses.
    let body =
        serde_saphyr::to_string(&exported.file).expect("the desired-state types always serialize");
    let notes: String = (exported.notes.iter())
        .map(|note| format!("# {}\n", note.replace('\n', " ")))
        .collect();
    format!(
        "# Exported by mailtrap-access. Rows of types or levels this tool does not manage\n# (owner, viewer+, organization) are not listed: plan leaves them alone.\n{notes}{body}"
    )
}
