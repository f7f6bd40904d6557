//! Magnet links: parsing never panics and respects its caps; a parsed link writes out to a
//! URI that parses to the same link.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tabswarm_core::magnet::{tracker_list, Magnet, MAX_TRACKERS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = Magnet::parse(text) {
        let uri = m.to_uri();
        let again = Magnet::parse(&uri).expect("our own magnet parses");
        assert_eq!(again, m);
        let (kept, ignored) = tracker_list(m.trackers.clone());
        assert!(kept.len() <= MAX_TRACKERS);
        assert!(kept.len() + ignored <= m.trackers.len());
    }
});
