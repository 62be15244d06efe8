//! The body of `POST /v1/security-scans`: JSON into the request model, then validation. Every refusal must
//! name a field; an accepted request must keep its ids within their limits.
#![no_main]

use certus_core::error::CoreError;
use certus_core::request::SubmitRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<SubmitRequest>(data) else {
        return;
    };
    match request.validate() {
        Ok(valid) => {
            for id in [
                &valid.ids.workspace_id,
                &valid.ids.component_id,
                &valid.ids.assessment_id,
            ] {
                assert!(!id.is_empty() && id.len() <= 128, "accepted id {id:?}");
            }
        }
        Err(CoreError::Validation(errors)) => {
            assert!(!errors.is_empty(), "a refusal without a reason");
            for error in &errors {
                assert!(!error.field.is_empty() && !error.message.is_empty());
            }
        }
        Err(other) => panic!("validation failed with a non-validation error: {other}"),
    }
});
