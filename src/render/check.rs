//! `check`'s report: the rules judged on the live account, and what breaks them, as
//! text, Markdown or JUnit XML (one test case per rule and subject, so CI systems show
//! them as tests). The JSON format is [`Checked`] itself.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::printable;
use crate::policy::Violation;

/// What `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub account_id: u64,
    /// Every rule judged, by name (`deny[0]`, `require_2fa`, ...).
    pub rules: Vec<String>,
    pub violations: Vec<Violation>,
}

impl Checked {
    fn of_rule<'a>(&'a self, rule: &'a str) -> impl Iterator<Item = &'a Violation> + 'a {
        self.violations.iter().filter(move |v| v.rule == rule)
    }
}

pub fn text(report: &Checked, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "Policies on Mailtrap account {}:", report.account_id)?;
    for rule in &report.rules {
        let broken: Vec<&Violation> = report.of_rule(rule).collect();
        if broken.is_empty() {
            writeln!(out, "  ✓ {rule}")?;
        }
        for violation in broken {
            writeln!(
                out,
                "  ✗ {rule} {}: {}",
                printable(&violation.subject),
                printable(&violation.message)
            )?;
        }
    }
    writeln!(out)?;
    match report.violations.len() {
        0 if report.rules.len() == 1 => writeln!(out, "The rule holds."),
        0 => writeln!(out, "All {} rules hold.", report.rules.len()),
        n => writeln!(
            out,
            "{n} {} of the account's policies.",
            crate::plan::plural(n, "violation", "violations")
        ),
    }
}

pub fn markdown(report: &Checked, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "### mailtrap-access check for account {}\n",
        report.account_id
    )?;
    writeln!(out, "| rule | subject | result |\n| --- | --- | --- |")?;
    let cell = |text: &str| super::markdown::inline(text);
    for rule in &report.rules {
        let broken: Vec<&Violation> = report.of_rule(rule).collect();
        if broken.is_empty() {
            writeln!(out, "| {} | | holds |", cell(rule))?;
        }
        for violation in broken {
            writeln!(
                out,
                "| {} | {} | **violated**: {} |",
                cell(rule),
                cell(&violation.subject),
                cell(&violation.message)
            )?;
        }
    }
    Ok(())
}

/// XML text or attribute content.
fn xml(text: &str) -> String {
    printable(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub fn junit(report: &Checked, out: &mut impl Write) -> io::Result<()> {
    let mut cases = Vec::new();
    let mut failures = 0;
    for rule in &report.rules {
        // One case per rule and subject: a subject's several failures of one rule (an
        // expectation's grants) are one case.
        let mut by_subject: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for violation in report.of_rule(rule) {
            (by_subject.entry(&violation.subject).or_default()).push(&violation.message);
        }
        if by_subject.is_empty() {
            cases.push(format!(
                "    <testcase classname=\"policies\" name=\"{}\"/>",
                xml(rule)
            ));
        }
        for (subject, messages) in by_subject {
            failures += 1;
            cases.push(format!(
                "    <testcase classname=\"policies\" name=\"{} {}\">\n      <failure message=\"{}\"/>\n    </testcase>",
                xml(rule),
                xml(subject),
                xml(&messages.join("; "))
            ));
        }
    }
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<testsuites>\n  <testsuite name=\"mailtrap-access policies, account {}\" tests=\"{}\" failures=\"{}\">",
        report.account_id,
        cases.len(),
        failures
    )?;
    for case in cases {
        writeln!(out, "{case}")?;
    }
    writeln!(out, "  </testsuite>\n</testsuites>")
}
