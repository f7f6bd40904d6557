//! BEP 10 extended handshakes and BEP 9 ut_metadata messages: decoding never panics, keeps
//! only bounded fields, and a decoded message encodes to one that decodes the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tabswarm_core::wire::{ExtendedHandshake, UtMetadata, MAX_METADATA_SIZE, METADATA_PIECE_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = ExtendedHandshake::decode(data) {
        assert!(h.v.as_ref().is_none_or(|v| v.len() <= 64));
        assert!(h
            .metadata_size
            .is_none_or(|s| s > 0 && s <= MAX_METADATA_SIZE));
        let again = ExtendedHandshake::decode(&h.encode()).expect("own handshake decodes");
        assert_eq!(again, h);
    }
    if let Ok(Some(m)) = UtMetadata::decode(data) {
        if let UtMetadata::Data { data, .. } = &m {
            assert!(data.len() <= METADATA_PIECE_LEN as usize);
        }
        let again = UtMetadata::decode(&m.encode()).expect("own message decodes");
        assert_eq!(again, Some(m));
    }
});
