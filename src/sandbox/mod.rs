//! A stateful simulation of Mailtrap's Account Management API on loopback.
