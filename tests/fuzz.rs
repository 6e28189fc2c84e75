//! Fuzz targets for the two parsers that take outside input: the desired-state loader
//! and the API response decoder. cargo-fuzz needs a nightly toolchain, which this
//! project's CI does not have, so they run as proptest properties: random and mutated
//! inputs must give Ok or a described error, never a panic. Raise `PROPTEST_CASES` for a
//! longer session.

use mailtrap_access::api::{decode_accesses, decode_resources};
use mailtrap_access::config;
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../examples/mailtrap-access.yaml");
const ACCOUNT: &str = include_str!("../examples/sandbox-account.json");

/// A valid input with a few random byte edits: close to valid, so it reaches deep.
fn mutated(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<prop::sample::Index>(), 0u8..3, any::<u8>());
    proptest::collection::vec(edit, 1..8).prop_map(move |edits| {
        let mut bytes = seed.to_vec();
        for (at, kind, byte) in edits {
            if bytes.is_empty() {
                bytes.push(byte);
                continue;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        bytes
    })
}

/// One of the demo account's two GET bodies, as the API would send it.
fn response_body(which: &str) -> &'static [u8] {
    let state: serde_json::Value = serde_json::from_str(ACCOUNT).unwrap();
    Box::leak(state[which].to_string().into_bytes().into_boxed_slice())
}

fn yaml_ish() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z@.:{}\\[\\],\\-\"'&*!|>#/ \n]{0,200}").unwrap()
}

/// A decode error either names the entry that breaks a rule of the model, or says what
/// was wrong with the JSON (with serde's line and column) and that nothing was changed.
fn says_what_and_that_nothing_changed(message: &str) -> bool {
    let entry_rule = message.starts_with("entry ") && message.contains("(access ");
    let located = message.contains(" at line ") && message.contains(" column ");
    let not_json = message.starts_with("an HTML page instead of JSON");
    entry_rule
        || ((located || not_json)
            && message.ends_with(
                "the API answered something this tool does not understand, nothing was changed",
            ))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn loader_never_panics_on_mutated_files(bytes in mutated(EXAMPLE.as_bytes())) {
        if let Ok(text) = String::from_utf8(bytes) {
            match config::parse("fuzz.yaml", &text) {
                Ok(_) => {}
                Err(err) => prop_assert!(err.to_string().starts_with("fuzz.yaml")),
            }
        }
    }

    #[test]
    fn loader_never_panics_on_yaml_soup(text in yaml_ish()) {
        let _ = config::parse("fuzz.yaml", &text);
    }

    #[test]
    fn decoder_never_panics_on_mutated_listings(bytes in mutated(response_body("accesses"))) {
        if let Err(message) = decode_accesses(&bytes) {
            prop_assert!(says_what_and_that_nothing_changed(&message), "{}", message);
        }
    }

    #[test]
    fn decoder_never_panics_on_mutated_trees(bytes in mutated(response_body("resources"))) {
        if let Err(message) = decode_resources(&bytes) {
            prop_assert!(says_what_and_that_nothing_changed(&message), "{}", message);
        }
    }

    #[test]
    fn decoder_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_accesses(&bytes);
        let _ = decode_resources(&bytes);
    }
}

#[test]
fn the_seeds_themselves_parse() {
    assert!(config::parse("example", EXAMPLE).is_ok());
    assert!(decode_accesses(response_body("accesses")).is_ok());
    assert!(decode_resources(response_body("resources")).is_ok());
}
