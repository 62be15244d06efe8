//! gitleaks-format rule files (a repository can bring its own): parsing and compiling must refuse bad rules
//! with an error, never panic or blow up; a rule set that loads must scan bytes without panicking.
#![no_main]

use certus_secrets::{RuleSet, ScanOptions, Scanner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = RuleSet::from_gitleaks_toml(text) else {
        return;
    };
    let scanner = Scanner::new(rules, ScanOptions::default());
    let _ = scanner.scan_bytes("config/app.env", text.as_bytes());
    // Assembled at run time so this file itself carries no secret-shaped literal.
    let planted = format!(
        "api_key = \"{}{}\"\ntoken = {}_{}\n",
        "AKIA",
        "Z7QW4RT2YP6UX3MN",
        "ghp",
        "k".repeat(36)
    );
    let _ = scanner.scan_bytes("key.txt", planted.as_bytes());
});
