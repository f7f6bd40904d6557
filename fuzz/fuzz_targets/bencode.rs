//! Bencode: decoding never panics, stays within its node budget, and what decodes re-encodes
//! to a value that decodes the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tabswarm_core::bencode;

fuzz_target!(|data: &[u8]| {
    // The node budget scales with the input's length, so a shorter text of the same value
    // may run out of it; anything else must round-trip.
    let same = |text: &[u8], v: &bencode::Value| match bencode::decode(text) {
        Ok(w) => assert_eq!(&w, v),
        Err(bencode::BencodeError::TooManyNodes { .. }) => {}
        Err(e) => panic!("{e:?} decoding {text:?}"),
    };
    if let Ok(v) = bencode::decode(data) {
        same(&bencode::encode(&v), &v);
    }
    if let Ok((v, used)) = bencode::decode_prefix(data) {
        assert!(used <= data.len());
        same(&data[..used], &v);
    }
    let _ = bencode::dict_entry_span(data, b"info");
});
