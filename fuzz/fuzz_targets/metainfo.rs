//! .torrent files: parsing never panics; a parsed torrent writes out to bytes that parse to
//! the same info hash and the same layout.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tabswarm_core::metainfo::{Info, Metainfo};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Metainfo::from_bytes(data) {
        let again = Metainfo::from_bytes(&m.to_bytes()).expect("our own .torrent parses");
        assert_eq!(again.info_hash, m.info_hash);
        assert_eq!(again.info.total_length(), m.info.total_length());
        let lengths = m.info.lengths();
        assert_eq!(lengths.total_length(), m.info.total_length());
        assert_eq!(lengths.num_pieces() as usize, m.info.pieces().len());
        let mut end = 0u64;
        for (_, range) in m.info.file_ranges() {
            assert_eq!(range.start, end);
            end = range.end;
        }
        assert_eq!(end, m.info.total_length());
    }
    let _ = Info::from_bytes(data);
});
