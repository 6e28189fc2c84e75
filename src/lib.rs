//! mailtrap-access: Mailtrap account access as code.

pub mod cli;
pub mod commands;
pub mod rate;
pub mod sandbox;
