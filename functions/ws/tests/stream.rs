//! The events table's stream as the `ws` function receives it: only inserted, well-formed stored events are
//! fanned out, in batch order.

use std::path::Path;

use certus_core::event::EventBody;
use serde_json::Value;

#[test]
fn inserted_events_are_taken_in_order_and_the_rest_skipped() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events-stream.json");
    let batch: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let events = ws::stored_events(&batch);
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        vec![1, 3],
        "the malformed insert and the REMOVE are skipped"
    );
    assert!(events.iter().all(|e| e.test_id == "test_0123456789ab"));
    assert!(events[1].body.is_terminal());
    assert!(
        matches!(&events[0].body, EventBody::Phase { message, .. } if message == "preparing source")
    );
}

#[test]
fn settings_name_what_is_missing() {
    let error = ws::Settings::from_vars(&|name| {
        (name != "CERTUS_ASSURANCE_WS_ENDPOINT").then(|| "x".to_string())
    })
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("CERTUS_ASSURANCE_WS_ENDPOINT is not set"),
        "{error}"
    );
}
