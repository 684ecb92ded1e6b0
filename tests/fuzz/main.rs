//! Fuzzing on stable Rust: each reader of outside input gets generated inputs and real
//! samples mutated (`targets.rs`), and must read or refuse every one without panicking.
//! How many inputs each target gets: `RATHAUS_FUZZ_CASES` (default 3000). Time per input is
//! measured by `cargo bench --bench fuzz`, never asserted here.

mod targets;

use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Inputs per target: about half a minute for the whole binary in the debug profile.
const DEFAULT_CASES: u32 = 3000;

fn config() -> Config {
    let cases = std::env::var("RATHAUS_FUZZ_CASES")
        .ok()
        .map(|n| n.parse().expect("RATHAUS_FUZZ_CASES is a number"))
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        // A failure is kept as a regression test next to the parser it found, not as a
        // file that proptest writes into the tree.
        failure_persistence: None,
        ..Config::default()
    }
}

static READER: LazyLock<targets::Reader> = LazyLock::new(targets::Reader::demo);

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_message_gets_a_reply(message in targets::messages()) {
        READER.read(&message);
    }

    #[test]
    fn every_dldb_record_is_imported_or_reported(export in targets::exports()) {
        targets::import_dldb(&export);
    }

    #[test]
    fn every_entry_file_is_read_or_refused(file in targets::entry_files()) {
        targets::read_entry(&file);
    }

    #[test]
    fn every_mail_is_parsed_or_refused(mail in targets::mails()) {
        targets::parse_mail(&mail);
    }

    #[test]
    fn every_recording_is_decoded_or_refused(utterance in targets::utterances()) {
        targets::decode_audio(&utterance);
    }
}
