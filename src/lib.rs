//! mailtrap-access: Mailtrap account access as code.

pub mod annotations;
pub mod api;
pub mod apply;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diff;
pub mod export;
pub mod model;
pub mod plan;
pub mod rails;
pub mod rate;
pub mod render;
pub mod resolve;
pub mod sandbox;
pub mod saved_plan;
