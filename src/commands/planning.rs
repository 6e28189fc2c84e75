//! The reads and the plan, as `plan` and `apply` both need them: the two GETs through a
//! read-only client, names resolved while the listing arrives, and the listing decoded
//! on one thread while a second diffs each access. Only threads and the client live
//! here; the diff itself stays in the pure `diff`.

use std::sync::{mpsc, Arc};

use anyhow::Context;

use crate::api::{ApiError, Listing, ReadClient};
use crate::config::{ConfigError, LoadedFile};
use crate::model::{Access, LiveState, Resource};
use crate::plan::Plan;
use crate::resolve::Desired;
use crate::{diff, resolve};

/// The two reads, name resolution and the diff. Takes only a reader: planning cannot
/// write, whatever its caller holds.
pub async fn fetch_and_plan(
    reader: &ReadClient,
    loaded: &Arc<LoadedFile>,
) -> anyhow::Result<(Plan, LiveState)> {
    const CONTEXT: &str = "cannot read the live account";
    // The file's names are resolved while the account listing is still arriving, on a
    // thread of their own: on the runtime's only thread, resolving would stop the
    // reading of the listing for as long, and the server would wait on a full socket.
    let (listing, resources, resolving) = reader
        .read_with(|resources| {
            let (loaded, resources) = (Arc::clone(loaded), resources.to_vec());
            tokio::task::spawn_blocking(move || resolve::resolve(&loaded, &resources))
        })
        .await
        .context(CONTEXT)?;
    let resolved = resolving
        .await
        .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()));
    let desired = match resolved {
        Ok(desired) => desired,
        Err(problems) => {
            // A listing the tool does not understand is the first thing to report.
            listing.check().context(CONTEXT)?;
            return Err(ConfigError::Invalid(problems).into());
        }
    };
    let (accesses, plan) =
        decode_and_diff(reader.account_id(), listing, &desired, &resources).context(CONTEXT)?;
    Ok((
        plan,
        LiveState {
            accesses,
            resources,
        },
    ))
}

/// Accesses handed from the decoding thread to the diffing one at a time: enough that
/// the handing over costs nothing beside the work, few enough that the diff keeps pace.
const ACCESSES_PER_BATCH: usize = 256;

/// Decode the listing on this thread while a second one diffs each access as soon as it
/// is decoded, so that the diff of a big account costs hardly any time beyond the
/// decode. The plan is the one [`diff::plan`] gives: the planner sees the accesses in
/// listing order, on one thread.
///
/// Memory is at its peak here, with the whole body held: the body is dropped as soon as
/// it is decoded, before the plan is put in order, and the decoded accesses travel in
/// batches that are joined only then, so no list of them is ever grown (and copied)
/// beside the body.
fn decode_and_diff(
    account_id: u64,
    listing: Listing,
    desired: &Desired,
    resources: &[Resource],
) -> Result<(Vec<Access>, Plan), ApiError> {
    let (decoded, batches, plan) = std::thread::scope(|scope| {
        let (sender, received) = mpsc::channel::<Vec<Access>>();
        let planner = scope.spawn(move || {
            let mut planner = diff::Planner::new(account_id, desired, resources);
            let mut batches = Vec::new();
            for batch in received {
                for access in &batch {
                    planner.add(access);
                }
                batches.push(batch);
            }
            (batches, planner)
        });
        let mut batch = Vec::with_capacity(ACCESSES_PER_BATCH);
        let decoded = listing.decode_each(|access| {
            batch.push(access);
            if batch.len() == ACCESSES_PER_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(ACCESSES_PER_BATCH));
                // The planner only stops receiving by panicking, which `join` reports.
                let _ = sender.send(full);
            }
        });
        drop(listing);
        let _ = sender.send(batch);
        drop(sender);
        let (batches, planner) = planner
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (decoded, batches, planner.finish())
    });
    decoded?;
    // Sized up front: collecting the batches would grow the list, copying it each time.
    let mut accesses = Vec::with_capacity(batches.iter().map(Vec::len).sum());
    for batch in batches {
        accesses.extend(batch);
    }
    Ok((accesses, plan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{decode_accesses, decode_resources};
    use crate::config;

    /// An account of `users` users, each holding a viewer row on one of ten inboxes,
    /// and a file that moves every other user to the next inbox as admin and removes
    /// the rest: every kind of change, over many batches.
    fn account(users: usize) -> (Vec<u8>, Vec<Resource>, LoadedFile) {
        let inboxes: Vec<String> = (0..10)
            .map(|n| {
                format!(
                    r#"{{"id":{},"name":"I{n}","type":"inbox","resources":[]}}"#,
                    400 + n
                )
            })
            .collect();
        let tree = format!(
            r#"[{{"id":300,"name":"P","type":"project","resources":[{}]}}]"#,
            inboxes.join(",")
        );
        let accesses: Vec<String> = (0..users)
            .map(|u| {
                format!(
                    r#"{{"id":{},"specifier_type":"User","specifier":{{"email":"u{u}@x.io"}},"resources":[{{"resource_type":"inbox","resource_id":{},"access_level":10}}]}}"#,
                    1000 + u,
                    400 + u % 10
                )
            })
            .collect();
        let mut file = "version: 1\nmin_account_admins: 0\nunmanaged: remove\nusers:\n".to_string();
        for u in (0..users).step_by(2) {
            file += &format!("  u{u}@x.io: {{inboxes: {{P/I{}: admin}}}}\n", (u + 1) % 10);
        }
        file += "  missing@x.io: {inboxes: {P/I0: viewer}}\n";
        (
            format!("[{}]", accesses.join(",")).into_bytes(),
            decode_resources(tree.as_bytes()).unwrap(),
            config::parse("access.yaml", &file).unwrap(),
        )
    }

    #[test]
    fn diffing_beside_the_decode_gives_the_plan_and_the_accesses_of_the_plain_way() {
        let users = 3 * ACCESSES_PER_BATCH + 7;
        let (body, resources, loaded) = account(users);
        let desired = resolve::resolve(&loaded, &resources).unwrap();
        let listing = Listing::new("GET /listing".to_string(), body.clone());
        let (accesses, plan) = decode_and_diff(1, listing, &desired, &resources).unwrap();

        let live = LiveState {
            accesses: decode_accesses(&body).unwrap(),
            resources,
        };
        assert_eq!(accesses, live.accesses);
        assert_eq!(plan, diff::plan(1, &desired, &live));
        assert_eq!(plan.changes.len(), users);
        assert_eq!(plan.summary().remove, users / 2);
        assert_eq!(plan.warnings.len(), 1);
    }

    #[test]
    fn a_listing_that_breaks_off_fails_whatever_was_diffed() {
        let (mut body, resources, loaded) = account(2 * ACCESSES_PER_BATCH);
        body.truncate(body.len() - 40);
        let desired = resolve::resolve(&loaded, &resources).unwrap();
        let listing = Listing::new("GET /listing".to_string(), body);
        let err = decode_and_diff(1, listing, &desired, &resources).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("GET /listing: the response could not be read: truncated JSON"),
            "{err}"
        );
    }
}
