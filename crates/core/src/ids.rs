//! The identifiers: [`InfoHash`], [`PeerId`], [`OfferId`] (20 bytes each) and [`PeerKey`] (the
//! driver's handle for one connection).
//!
//! A leaf: it imports nothing from the crate, so every other module can use it. Each type is
//! defined here once; modules that put an id on a wire add its encoding there (the tracker's
//! binary strings and serde in [`tracker_proto`](crate::tracker_proto), the BEP 3 handshake in
//! [`wire`](crate::wire)). Ids print as 40 lowercase hex digits ([`hex`] is the one hex
//! encoder of the project).

use std::fmt;

/// The driver's handle for one peer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerKey(pub u64);

macro_rules! id20 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; 20]);

        impl $name {
            pub fn as_bytes(&self) -> &[u8; 20] {
                &self.0
            }

            /// 40 lowercase hex digits.
            pub fn to_hex(&self) -> String {
                hex(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), hex(&self.0))
            }
        }

        impl From<[u8; 20]> for $name {
            fn from(b: [u8; 20]) -> $name {
                $name(b)
            }
        }
    };
}

id20!(
    /// A torrent's info hash: the SHA-1 of its bencoded info dict.
    InfoHash
);

/// How our peer ids begin (Azureus style: `-`, client `TS`, version 0100, `-`); 12 random
/// characters follow (src/lib.rs `make_peer_id`).
pub const PEER_ID_PREFIX: &[u8; 8] = b"-TS0100-";

id20!(
    /// A peer id (20 bytes; WebTorrent uses `-WW0300-` + base64 of 9 random bytes, we use
    /// [`PEER_ID_PREFIX`] + 12 random characters).
    PeerId
);

impl PeerId {
    /// Whether the id is a tabswarm peer's (any version): `-TS`.
    pub fn is_tabswarm(&self) -> bool {
        self.0.starts_with(&PEER_ID_PREFIX[..3])
    }
}

id20!(
    /// The id a peer gives one of its WebRTC offers; the answer echoes it.
    OfferId
);

impl InfoHash {
    /// From 40 hex digits, either case.
    pub fn from_hex(s: &str) -> Option<InfoHash> {
        let s = s.as_bytes();
        if s.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            *o = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(InfoHash(out))
    }

    /// From 32 RFC 4648 base32 characters (`A-Z2-7`, either case), as in old magnet links.
    pub fn from_base32(s: &str) -> Option<InfoHash> {
        let s = s.as_bytes();
        if s.len() != 32 {
            return None;
        }
        let mut out = [0u8; 20];
        let mut acc: u64 = 0;
        let mut bits = 0u32;
        let mut i = 0;
        for &c in s {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a',
                b'2'..=b'7' => c - b'2' + 26,
                _ => return None,
            };
            acc = (acc << 5) | u64::from(v);
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out[i] = (acc >> bits).to_le_bytes()[0];
                i += 1;
            }
        }
        Some(InfoHash(out))
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn ids_print_as_lowercase_hex() {
        let mut b = [0u8; 20];
        b[0] = 0xab;
        b[19] = 0x0f;
        let want = "ab0000000000000000000000000000000000000f";
        assert_eq!(InfoHash(b).to_string(), want);
        assert_eq!(PeerId(b).to_hex(), want);
        assert_eq!(format!("{:?}", OfferId(b)), format!("OfferId({want})"));
        assert_eq!(hex(&[0x00, 0x7f, 0xff]), "007fff");
    }

    #[test]
    fn info_hash_parses_hex_and_base32() {
        let h = InfoHash::from_hex("C12FE1C06BBA254A9DC9F519B335AA7C1367A88A").unwrap();
        assert_eq!(h.to_hex(), "c12fe1c06bba254a9dc9f519b335aa7c1367a88a");
        assert_eq!(
            InfoHash::from_base32("YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK"),
            Some(h)
        );
        assert_eq!(InfoHash::from_hex("c12f"), None);
        assert_eq!(InfoHash::from_hex(&"g".repeat(40)), None);
        assert_eq!(InfoHash::from_base32(&"1".repeat(32)), None);
    }
}
