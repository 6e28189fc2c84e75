//! The access review as Markdown (for people and auditors) and CSV (one row per subject
//! and resource, for spreadsheets). The JSON format is `report::Report` itself.

use std::io::{self, Write};

use crate::model::printable;
use crate::report::Report;

pub fn markdown(review: &Report, out: &mut impl Write) -> io::Result<()> {
    let text = |value: &str| super::markdown::inline(value);
    let name =
        (review.account_name.as_deref()).map_or(String::new(), |name| format!(" ({})", text(name)));
    writeln!(
        out,
        "# Access review of Mailtrap account {}{name}\n",
        review.account_id
    )?;
    writeln!(out, "- Generated at: {} (UTC)", review.generated_at)?;
    writeln!(
        out,
        "- Live state SHA-256: `{}`\n",
        review.live_state_sha256
    )?;
    let summary = &review.summary;
    writeln!(out, "## Summary\n")?;
    let joined = |items: &[String], by: &str| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items
                .iter()
                .map(|item| text(item))
                .collect::<Vec<_>>()
                .join(by)
        }
    };
    let list = |items: &[String]| joined(items, ", ");
    writeln!(out, "| | |\n| --- | --- |")?;
    writeln!(
        out,
        "| Account admins besides the owner | {} |",
        list(&summary.account_admins)
    )?;
    writeln!(
        out,
        "| Admins without two-factor authentication | {} |",
        list(&summary.admins_without_2fa)
    )?;
    writeln!(
        out,
        "| Pending invites | {} |",
        list(&summary.pending_invites)
    )?;
    writeln!(
        out,
        "| API tokens that never expire | {} |",
        list(&summary.tokens_never_expiring)
    )?;
    writeln!(
        out,
        "| API tokens expired or expiring within 30 days | {} |",
        list(&summary.tokens_expiring_soon)
    )?;
    if let Some(not_in_file) = &summary.not_in_file {
        writeln!(
            out,
            "| In the account, not in the file | {} |",
            list(not_in_file)
        )?;
    }
    if let Some(violations) = &summary.policy_violations {
        let lines: Vec<String> = (violations.iter())
            .map(|v| format!("{} {}: {}", v.rule, v.subject, v.message))
            .collect();
        writeln!(out, "| Policy violations | {} |", joined(&lines, "<br>"))?;
    }
    writeln!(out, "\n## Access\n")?;
    for subject in &review.subjects {
        let mut about = vec![subject.kind.to_string()];
        match subject.two_factor {
            Some(true) => about.push("two-factor on".to_string()),
            Some(false) => about.push("two-factor off".to_string()),
            None => {}
        }
        if let Some(expires) = &subject.expires_at {
            about.push(format!("expires {expires}"));
        }
        writeln!(out, "### {} ({})\n", text(&subject.name), about.join(", "))?;
        if subject.access.is_empty() {
            writeln!(out, "No access.\n")?;
            continue;
        }
        writeln!(
            out,
            "| resource | id | level | why |\n| --- | --- | --- | --- |"
        )?;
        for held in &subject.access {
            let noun = crate::model::ResourceType::from_api(&held.kind);
            writeln!(
                out,
                "| {} {} | {} | {} | {} |",
                noun.noun(),
                text(&held.name),
                held.id,
                held.level,
                text(&held.why)
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// A CSV field: quoted when it must be, and never read as a formula by a spreadsheet
/// (a name from the account could start with `=`).
fn field(value: &str) -> String {
    let value = printable(value);
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.into_owned()
    };
    if value.contains([',', '"', '\n']) || value.starts_with(' ') {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

pub fn csv(review: &Report, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "account_id,generated_at,live_state_sha256,subject,kind,two_factor,token_expires_at,resource_type,resource_name,resource_id,level,why"
    )?;
    for subject in &review.subjects {
        let two_factor = subject
            .two_factor
            .map_or(String::new(), |on| on.to_string());
        let expires = subject.expires_at.clone().unwrap_or_default();
        let head = format!(
            "{},{},{},{},{},{},{}",
            review.account_id,
            review.generated_at,
            review.live_state_sha256,
            field(&subject.name),
            subject.kind,
            two_factor,
            field(&expires)
        );
        if subject.access.is_empty() {
            writeln!(out, "{head},,,,,")?;
        }
        for held in &subject.access {
            writeln!(
                out,
                "{head},{},{},{},{},{}",
                field(&held.kind),
                field(&held.name),
                held.id,
                field(&held.level.to_string()),
                field(&held.why)
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn a_field_is_quoted_when_it_must_be_and_never_read_as_a_formula() {
        assert_eq!(field("bob@acme.com"), "bob@acme.com");
        assert_eq!(field("Backend, Inc."), "\"Backend, Inc.\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+1"), "'+1");
    }
}
