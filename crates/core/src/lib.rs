//! Sans-IO BitTorrent for tabswarm.
//!
//! Everything here is pure: no sockets, no clock, no randomness of its own. Time comes in as
//! [`time::Time`] arguments and randomness from a seed in the configuration ([`rng::Rng`]), so
//! the same engine runs in the browser, in native tests and in the simulator, and every run can
//! be replayed exactly from its seed.
//!
//! The [`engine::Engine`] follows the `handle_input` / `poll_output` shape: feed it an input,
//! then drain `poll_output()` until it returns `Output::Timeout(at)`; call it again with
//! `Input::Timeout` at or after `at` (or sooner, if another input arrives).

pub mod bencode;
pub mod bitfield;
pub mod choker;
pub mod engine;
pub mod glare;
pub mod ids;
pub mod lengths;
pub mod magnet;
pub mod metainfo;
pub mod picker;
pub mod rate;
pub mod rng;
pub mod selection;
pub mod store;
pub mod text;
pub mod time;
pub mod tracker_proto;
pub mod tracker_session;
pub mod wire;

/// A 20-byte SHA-1 digest; the info hash of a torrent.
pub type Sha1Digest = [u8; 20];

/// SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> Sha1Digest {
    use sha1::Digest;
    sha1::Sha1::digest(data).into()
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    #[test]
    fn sha1_of_abc_matches_fips_180_vector() {
        let hex: String = super::sha1(b"abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
