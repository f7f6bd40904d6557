//! WebSocket tracker JSON, both directions (what the native tracker reads from clients, what a
//! client reads from trackers): decoding never panics, and a decoded message encodes to JSON
//! that decodes to the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tabswarm_core::tracker_proto::{ClientMessage, TrackerMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = ClientMessage::from_json(data) {
        let again = ClientMessage::from_json(m.to_json().as_bytes()).expect("own JSON decodes");
        assert_eq!(again, m);
    }
    if let Ok(m) = TrackerMessage::from_json(data) {
        let again = TrackerMessage::from_json(m.to_json().as_bytes()).expect("own JSON decodes");
        assert_eq!(again, m);
    }
});
