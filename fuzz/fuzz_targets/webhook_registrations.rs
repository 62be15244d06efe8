//! Push-trigger registrations (JSON or TOML): every field is validated; hostile files must be refused with an
//! error, never panic. (Webhook bodies are parsed only after their HMAC or token is checked; that path needs
//! the whole service and is covered by `shared/api/tests/api/webhooks.rs`.)
#![no_main]

use std::path::Path;

use certus_triggers::registration::{Format, Registrations};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = if selector % 2 == 0 {
        Format::Json
    } else {
        Format::Toml
    };
    if let Ok(registrations) = Registrations::parse(text, format, Path::new("/srv/certus")) {
        assert!(
            registrations.len() <= text.len(),
            "more registrations than bytes"
        );
    }
});
