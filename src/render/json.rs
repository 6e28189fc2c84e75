//! The plan as versioned JSON (`plan --format json`), for programs: the plan's own
//! serialization (`saved_plan::PlanDocument`), pretty-printed. A saved plan is the same
//! document with a fingerprint.

use std::io::{self, Write};

use serde::Serialize;

use crate::plan::Plan;
use crate::rails::Refusal;
use crate::saved_plan::PlanDocument;

/// `plan --format json`: the document, pretty-printed, with a final newline.
pub fn plan_json(plan: &Plan, refusals: &[Refusal], out: &mut impl Write) -> io::Result<()> {
    write_json(&PlanDocument::new(plan, refusals, None), out)
}

/// Any serializable document, pretty-printed, with a final newline.
pub fn write_json(document: &impl Serialize, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, document).map_err(io::Error::other)?;
    writeln!(out)
}
