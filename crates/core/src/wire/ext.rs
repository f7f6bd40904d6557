//! BEP 10 extended handshake and BEP 9 `ut_metadata` payloads (the bodies of
//! [`Message::Extended`](super::Message::Extended)); re-exported from [`crate::wire`].

#![warn(clippy::arithmetic_side_effects)]

use std::collections::BTreeMap;

use super::{Message, WireError, MAX_METADATA_SIZE, METADATA_PIECE_LEN};
use crate::bencode::{self, Value};

/// BEP 10 extended handshake (the payload of extended message 0). Unknown keys are ignored and
/// every key is optional; values of the wrong type are treated as absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtendedHandshake {
    /// Extension name to the id the sender wants to receive it under; 0 means disabled.
    pub m: BTreeMap<String, u8>,
    /// Size of the info dict (BEP 9); only kept when `0 < size <= MAX_METADATA_SIZE`.
    pub metadata_size: Option<u64>,
    /// How many outstanding requests the sender accepts.
    pub reqq: Option<u32>,
    /// Client name and version.
    pub v: Option<String>,
    /// TCP listen port (meaningless over WebRTC, kept for completeness).
    pub p: Option<u16>,
}

impl ExtendedHandshake {
    /// The id the peer wants for extension `name`, if it supports it (nonzero).
    pub fn extension_id(&self, name: &str) -> Option<u8> {
        self.m.get(name).copied().filter(|&id| id != 0)
    }

    /// The bencoded payload (keys sorted).
    pub fn encode(&self) -> Vec<u8> {
        let mut d = BTreeMap::new();
        // Inserting rather than `collect`ing: `BTreeMap: FromIterator` sorts with the stable
        // sort, whose code (several KB per type) is not otherwise in the wasm build.
        let mut m = BTreeMap::new();
        for (k, &v) in &self.m {
            m.insert(k.as_bytes().to_vec(), Value::Int(i64::from(v)));
        }
        d.insert(b"m".to_vec(), Value::Dict(m));
        if let Some(size) = self.metadata_size.and_then(|s| i64::try_from(s).ok()) {
            d.insert(b"metadata_size".to_vec(), Value::Int(size));
        }
        if let Some(reqq) = self.reqq {
            d.insert(b"reqq".to_vec(), Value::Int(i64::from(reqq)));
        }
        if let Some(v) = &self.v {
            d.insert(b"v".to_vec(), Value::str(v));
        }
        if let Some(p) = self.p {
            d.insert(b"p".to_vec(), Value::Int(i64::from(p)));
        }
        bencode::encode(&Value::Dict(d))
    }

    pub fn decode(payload: &[u8]) -> Result<ExtendedHandshake, WireError> {
        let v = bencode::decode(payload)?;
        let d = v.as_dict().ok_or(WireError::ExtendedHandshakeNotADict)?;
        let int = |key: &str| d.get(key.as_bytes()).and_then(Value::as_int);
        let m = d
            .get(&b"m"[..])
            .and_then(Value::as_dict)
            .map(|m| {
                // Inserted one by one, not collected: see `encode`.
                let mut names = BTreeMap::new();
                for (k, v) in m {
                    let name = String::from_utf8(k.clone()).ok();
                    let id = v.as_int().and_then(|id| u8::try_from(id).ok());
                    if let (Some(name), Some(id)) = (name, id) {
                        names.insert(name, id);
                    }
                }
                names
            })
            .unwrap_or_default();
        Ok(ExtendedHandshake {
            m,
            metadata_size: int("metadata_size")
                .and_then(|s| u64::try_from(s).ok())
                .filter(|&s| s > 0 && s <= MAX_METADATA_SIZE),
            reqq: int("reqq").and_then(|r| u32::try_from(r).ok()),
            v: d.get(&b"v"[..]).and_then(Value::as_bytes).map(client_name),
            p: int("p").and_then(|p| u16::try_from(p).ok()),
        })
    }
}

/// Longest client name ([`ExtendedHandshake::v`]) kept, in bytes; longer names are cut.
pub const MAX_CLIENT_NAME_LEN: usize = 64;

/// The client name from the raw `v` bytes (invalid UTF-8 replaced), at most
/// [`MAX_CLIENT_NAME_LEN`] bytes.
fn client_name(raw: &[u8]) -> String {
    crate::text::lossy_prefix(raw, MAX_CLIENT_NAME_LEN)
}

/// A BEP 9 `ut_metadata` message (the payload of an extended message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UtMetadata {
    Request {
        piece: u32,
    },
    /// `data` is at most [`METADATA_PIECE_LEN`] bytes.
    Data {
        piece: u32,
        total_size: u64,
        data: Vec<u8>,
    },
    Reject {
        piece: u32,
    },
}

impl UtMetadata {
    /// The payload: a bencoded dict with only the standard keys (WebTorrent finds the end of
    /// the dict by searching for `ee`), followed by the raw piece for `Data`.
    pub fn encode(&self) -> Vec<u8> {
        let (msg_type, piece) = match self {
            UtMetadata::Request { piece } => (0, piece),
            UtMetadata::Data { piece, .. } => (1, piece),
            UtMetadata::Reject { piece } => (2, piece),
        };
        let mut d = BTreeMap::new();
        d.insert(b"msg_type".to_vec(), Value::Int(msg_type));
        d.insert(b"piece".to_vec(), Value::Int(i64::from(*piece)));
        if let UtMetadata::Data { total_size, .. } = self {
            let size = i64::try_from(*total_size).unwrap_or(i64::MAX);
            d.insert(b"total_size".to_vec(), Value::Int(size));
        }
        let mut out = bencode::encode(&Value::Dict(d));
        if let UtMetadata::Data { data, .. } = self {
            out.extend_from_slice(data);
        }
        out
    }

    /// Parses a payload. `Ok(None)` for an unknown `msg_type`, which BEP 9 says to ignore.
    /// Bytes after the dict of a request or reject are ignored.
    pub fn decode(payload: &[u8]) -> Result<Option<UtMetadata>, WireError> {
        let (dict, end) = bencode::decode_prefix(payload)?;
        let int = |key: &str| dict.get(key).and_then(Value::as_int);
        let msg_type = int("msg_type").ok_or(WireError::BadUtMetadata)?;
        let piece = int("piece")
            .and_then(|p| u32::try_from(p).ok())
            .ok_or(WireError::BadUtMetadata)?;
        Ok(Some(match msg_type {
            0 => UtMetadata::Request { piece },
            1 => {
                let total_size = int("total_size")
                    .and_then(|s| u64::try_from(s).ok())
                    .ok_or(WireError::BadUtMetadata)?;
                let data = &payload[end..];
                if data.len() > METADATA_PIECE_LEN as usize {
                    return Err(WireError::BadUtMetadata);
                }
                UtMetadata::Data {
                    piece,
                    total_size,
                    data: data.to_vec(),
                }
            }
            2 => UtMetadata::Reject { piece },
            _ => return Ok(None),
        }))
    }

    /// Wraps the payload in an extended message for the peer's `ut_metadata` id.
    pub fn to_message(&self, ext_id: u8) -> Message {
        Message::Extended {
            id: ext_id,
            payload: self.encode(),
        }
    }
}

/// Number of `ut_metadata` pieces for metadata of `size` bytes.
pub fn metadata_pieces(size: u64) -> u64 {
    size.div_ceil(u64::from(METADATA_PIECE_LEN))
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // Test code: overflow would fail the test.
mod tests {
    use super::*;
    use crate::ids::{InfoHash, PeerId};
    use crate::wire::{Decoder, Frame, Handshake, WireLimits, UT_METADATA};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn extended_handshake_round_trip_and_unknown_keys() {
        let ours = ExtendedHandshake {
            m: [(UT_METADATA.to_string(), 1), ("lt_donthave".to_string(), 2)].into(),
            metadata_size: Some(31_337),
            reqq: Some(250),
            v: Some("tabswarm 0.1.0".to_string()),
            p: None,
        };
        let bytes = ours.encode();
        assert!(bytes.starts_with(b"d1:md11:lt_donthavei2e11:ut_metadatai1ee"));
        assert_eq!(ExtendedHandshake::decode(&bytes), Ok(ours.clone()));
        assert_eq!(ours.extension_id(UT_METADATA), Some(1));

        // Unknown keys, a bad `m` entry, a disabled extension, wrong types, huge metadata.
        let theirs = b"d8:completei1e1:md6:ut_pexi0e11:ut_metadatai3e3:badli1ee4:hugei999ee\
13:metadata_sizei99999999999e1:pi70000e4:reqqi-1e1:v14:WebTorrent 3.06:yourip4:\x7f\x00\x00\x01e";
        let h = ExtendedHandshake::decode(theirs).unwrap();
        assert_eq!(h.extension_id(UT_METADATA), Some(3));
        assert_eq!(h.extension_id("ut_pex"), None);
        assert_eq!(h.m.len(), 2, "{:?}", h.m);
        assert_eq!(h.metadata_size, None, "over 10 MB");
        assert_eq!(h.p, None);
        assert_eq!(h.reqq, None);
        assert_eq!(h.v.as_deref(), Some("WebTorrent 3.0"));
        // Missing keys are fine; a non-dict is not.
        assert_eq!(
            ExtendedHandshake::decode(b"de"),
            Ok(ExtendedHandshake::default())
        );
        assert_eq!(
            ExtendedHandshake::decode(b"li1ee"),
            Err(WireError::ExtendedHandshakeNotADict)
        );
        assert!(matches!(
            ExtendedHandshake::decode(b"d1:m"),
            Err(WireError::Bencode(_))
        ));
    }

    #[test]
    fn client_name_is_cut_to_64_bytes_on_a_char_boundary() {
        let with_v = |v: &[u8]| {
            let mut d = BTreeMap::new();
            d.insert(b"v".to_vec(), Value::Bytes(v.to_vec()));
            let h = ExtendedHandshake::decode(&bencode::encode(&Value::Dict(d))).unwrap();
            h.v.unwrap()
        };
        assert_eq!(with_v(b"short"), "short");
        assert_eq!(with_v(&[b'a'; 64]), "a".repeat(64));
        assert_eq!(with_v(&[b'a'; 100_000]), "a".repeat(64));
        // 63 ASCII bytes then a 2-byte char that would end at 65: the char goes.
        let mut v = vec![b'x'; 63];
        v.extend_from_slice("é".as_bytes());
        assert_eq!(with_v(&v), "x".repeat(63));
        // 62 + 2 bytes fits exactly.
        let mut v = vec![b'x'; 62];
        v.extend_from_slice("é".as_bytes());
        v.extend_from_slice(b"tail");
        assert_eq!(with_v(&v), format!("{}é", "x".repeat(62)));
        // 4-byte chars: 16 fit in 64 bytes.
        assert_eq!(with_v("🦀".repeat(40).as_bytes()), "🦀".repeat(16));
        // Invalid bytes become U+FFFD (3 bytes each): 21 of them fit.
        let name = with_v(&[0xff; 1000]);
        assert_eq!(name, "\u{fffd}".repeat(21));
        assert!(name.len() <= MAX_CLIENT_NAME_LEN);
    }

    #[test]
    fn ut_metadata_messages() {
        for m in [
            UtMetadata::Request { piece: 2 },
            UtMetadata::Reject { piece: 0 },
        ] {
            assert_eq!(UtMetadata::decode(&m.encode()), Ok(Some(m)));
        }
        assert_eq!(
            UtMetadata::Request { piece: 0 }.encode(),
            b"d8:msg_typei0e5:piecei0ee"
        );
        assert_eq!(UtMetadata::decode(b"d8:msg_typei7e5:piecei0ee"), Ok(None));
        assert_eq!(
            UtMetadata::decode(b"d8:msg_typei1e5:piecei0ee"),
            Err(WireError::BadUtMetadata),
            "data without total_size"
        );
        assert_eq!(
            UtMetadata::decode(b"d8:msg_typei0e5:piecei-1ee"),
            Err(WireError::BadUtMetadata)
        );
        let too_long = UtMetadata::Data {
            piece: 0,
            total_size: 1 << 20,
            data: vec![0; METADATA_PIECE_LEN as usize + 1],
        };
        assert_eq!(
            UtMetadata::decode(&too_long.encode()),
            Err(WireError::BadUtMetadata)
        );
    }

    #[test]
    fn ut_metadata_data_split_across_pushes() {
        // The raw piece starts with "ee" and contains "ee": only decoding finds the dict end.
        let mut data = b"eeee".to_vec();
        data.extend((0..METADATA_PIECE_LEN - 4).map(|i| i.to_le_bytes()[0]));
        let msg = UtMetadata::Data {
            piece: 1,
            total_size: 40_000,
            data,
        };
        let encoded = msg.to_message(2);
        let mut bytes = Vec::new();
        encoded.encode(&mut bytes);
        let mut d = Decoder::new(WireLimits::default());
        d.push(&Handshake::new(InfoHash([1; 20]), PeerId([2; 20])).encode());
        assert!(matches!(d.next(), Ok(Some(Frame::Handshake(_)))));
        for part in [&bytes[..3], &bytes[3..30], &bytes[30..9000], &bytes[9000..]] {
            d.push(part);
        }
        let Ok(Some(Frame::Message(Message::Extended { id: 2, payload }))) = d.next() else {
            panic!("no extended message");
        };
        assert_eq!(UtMetadata::decode(&payload), Ok(Some(msg)));
        assert_eq!(metadata_pieces(40_000), 3);
        assert_eq!(metadata_pieces(16_384), 1);
    }
}
