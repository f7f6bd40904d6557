//! The peer wire codec: BEP 3 messages, BEP 10 extension protocol, BEP 9 `ut_metadata`.
//!
//! Over WebRTC the wire is a plain byte stream (WebTorrent sends a `piece` as one 13-byte send
//! then one 16 384-byte send, and may merge or split anything else), so the [`Decoder`] takes
//! bytes in any slicing: `push(bytes)`, then call `next()` until it returns `Ok(None)`. The
//! first frame is the peer's [`Handshake`]; every later one a [`Message`].
//!
//! Limits ([`WireLimits`]): a length prefix is checked against the largest legal message for
//! its id as soon as the prefix and id have arrived (five bytes), before any payload is
//! buffered, and an oversized message is a [`WireError`] (the engine disconnects the peer).
//! Memory is never reserved from a claimed length beyond a checked limit: a `piece` block is
//! at most 16 KiB, a `bitfield` at most `max_bitfield_len`, and other payloads grow as their
//! bytes actually arrive.
//!
//! Copies: header bytes (at most 17) go to a small array; a payload is copied once, from the
//! pushed slice straight into the `Vec` that the returned [`Message`] owns. There is no stream
//! buffer to shift or compact.
//!
//! Message ids we do not implement are skipped (tolerant, like most clients): `port` (9, BEP 5)
//! and anything unknown, up to [`MAX_IGNORED_LEN`] bytes. The BEP 6 fast-extension ids (13-17)
//! are an error instead: we never set the fast bit, and BEP 6 says a peer that sends them
//! without negotiating must be disconnected (WebTorrent does the same).
//!
//! Our handshake sets only the BEP 10 reserved bit (`reserved[5] |= 0x10`); not BEP 6 (0x04 in
//! byte 7), which would oblige us to implement `have_all`, `reject` and the rest.

#![warn(clippy::arithmetic_side_effects)]

use std::fmt;

use crate::bencode::BencodeError;
use crate::ids::{InfoHash, PeerId};
use crate::lengths::BLOCK_LEN;

mod decoder;
mod ext;
pub use decoder::{Decoder, Frame};
pub use ext::{metadata_pieces, ExtendedHandshake, UtMetadata, MAX_CLIENT_NAME_LEN};

/// The protocol string of the BEP 3 handshake (its length, 19, is the first byte).
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";
/// Bytes in a handshake: 1 + 19 + 8 reserved + 20 info hash + 20 peer id.
pub const HANDSHAKE_LEN: usize = 68;
/// Size of a `ut_metadata` piece (BEP 9); the last piece may be shorter.
pub const METADATA_PIECE_LEN: u32 = 16384;
/// Largest `metadata_size` we accept, WebTorrent's `MAX_METADATA_SIZE` (10 MB).
pub const MAX_METADATA_SIZE: u64 = 10_000_000;
/// The BEP 9 extension name in the extended handshake's `m` dict.
pub const UT_METADATA: &str = "ut_metadata";
/// Extended message id 0 is the extended handshake (BEP 10).
pub const EXTENDED_HANDSHAKE_ID: u8 = 0;
/// `bitfield` payload cap before the piece count is known: a torrent whose metadata fits in
/// [`MAX_METADATA_SIZE`] has at most 10^7 / 20 = 500 000 pieces, i.e. 62 500 bitfield bytes.
pub const DEFAULT_MAX_BITFIELD_LEN: u32 = 62_500;
/// Largest extended message (length prefix value: id, extended id and payload): 1 MiB.
pub const MAX_EXTENDED_LEN: u32 = 1 << 20;
/// Largest message with an id we skip (`port` is 3 bytes; BEP 52 hash messages are small).
pub const MAX_IGNORED_LEN: u32 = 1 << 16;

/// BEP 3 / BEP 10 message ids.
pub mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    /// BEP 5 DHT port; skipped.
    pub const PORT: u8 = 9;
    /// BEP 6 ids `13..=17` (suggest, have all, have none, reject, allowed fast).
    pub const FAST_FIRST: u8 = 13;
    pub const FAST_LAST: u8 = 17;
    pub const EXTENDED: u8 = 20;
}

/// Per-connection size limits of the [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireLimits {
    /// Largest `bitfield` payload: `ceil(num_pieces / 8)` once the metadata is known, else
    /// [`DEFAULT_MAX_BITFIELD_LEN`].
    pub max_bitfield_len: u32,
    /// Largest block in a `piece` message: [`BLOCK_LEN`] (the message is then 16 KiB + 13).
    pub max_block_len: u32,
    /// Largest extended message (its length prefix): [`MAX_EXTENDED_LEN`].
    pub max_extended_len: u32,
}

impl Default for WireLimits {
    fn default() -> WireLimits {
        WireLimits {
            max_bitfield_len: DEFAULT_MAX_BITFIELD_LEN,
            max_block_len: BLOCK_LEN,
            max_extended_len: MAX_EXTENDED_LEN,
        }
    }
}

impl WireLimits {
    /// Limits for a torrent of `num_pieces` pieces.
    pub fn for_pieces(num_pieces: u32) -> WireLimits {
        WireLimits {
            max_bitfield_len: num_pieces.div_ceil(8),
            ..WireLimits::default()
        }
    }

    /// The largest length prefix any message may carry under these limits.
    fn max_message_len(&self) -> u32 {
        (self.max_block_len.saturating_add(9))
            .max(self.max_bitfield_len.saturating_add(1))
            .max(self.max_extended_len)
            .max(MAX_IGNORED_LEN)
    }
}

/// Why a peer's byte stream was refused; every variant means "disconnect this peer".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Handshake: the first byte (pstrlen) must be 19.
    BadProtocolLength { got: u8 },
    /// Handshake: the protocol string must be `BitTorrent protocol`.
    BadProtocolString,
    /// [`Handshake::decode`] needs exactly [`HANDSHAKE_LEN`] bytes.
    BadHandshakeLength { got: usize },
    /// A length prefix above the largest legal message for its id (`id` is `None` when the
    /// prefix alone already exceeds every limit). Checked before buffering the payload.
    MessageTooLong { id: Option<u8>, len: u32, max: u32 },
    /// A fixed-size message (choke, have, request, ...) with the wrong length, or a `piece` or
    /// extended message too short for its header.
    BadMessageLength { id: u8, len: u32 },
    /// A BEP 6 message although the fast extension was not negotiated (we never offer it).
    FastNotNegotiated { id: u8 },
    /// An extended handshake or `ut_metadata` payload that is not valid bencode.
    Bencode(BencodeError),
    /// The extended handshake payload is valid bencode but not a dict.
    ExtendedHandshakeNotADict,
    /// A `ut_metadata` message without an integer `msg_type` or `piece`, without
    /// `total_size` for data, with values out of range, or with data longer than
    /// [`METADATA_PIECE_LEN`].
    BadUtMetadata,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadProtocolLength { got } => write!(f, "handshake pstrlen {got}, not 19"),
            WireError::BadProtocolString => f.write_str("handshake protocol string mismatch"),
            WireError::BadHandshakeLength { got } => write!(f, "handshake of {got} bytes"),
            WireError::MessageTooLong {
                id: Some(id),
                len,
                max,
            } => write!(f, "message id {id} of {len} bytes exceeds {max}"),
            WireError::MessageTooLong { id: None, len, max } => {
                write!(f, "length prefix {len} exceeds every message limit ({max})")
            }
            WireError::BadMessageLength { id, len } => {
                write!(f, "message id {id} with invalid length {len}")
            }
            WireError::FastNotNegotiated { id } => {
                write!(f, "fast extension message {id} without negotiation")
            }
            WireError::Bencode(e) => write!(f, "extended payload: {e}"),
            WireError::ExtendedHandshakeNotADict => f.write_str("extended handshake not a dict"),
            WireError::BadUtMetadata => f.write_str("malformed ut_metadata message"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<BencodeError> for WireError {
    fn from(e: BencodeError) -> WireError {
        WireError::Bencode(e)
    }
}

/// The BEP 3 handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    pub reserved: [u8; 8],
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
}

impl Handshake {
    /// Our reserved bytes: only the BEP 10 extension protocol bit.
    pub const OUR_RESERVED: [u8; 8] = [0, 0, 0, 0, 0, 0x10, 0, 0];

    /// Our handshake for `info_hash`.
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> Handshake {
        Handshake {
            reserved: Self::OUR_RESERVED,
            info_hash,
            peer_id,
        }
    }

    /// BEP 10 bit: the peer speaks the extension protocol.
    pub fn supports_extended(&self) -> bool {
        self.reserved[5] & 0x10 != 0
    }

    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[0] = 19;
        out[1..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved);
        out[28..48].copy_from_slice(&self.info_hash.0);
        out[48..68].copy_from_slice(&self.peer_id.0);
        out
    }

    /// Parses exactly [`HANDSHAKE_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<Handshake, WireError> {
        if bytes.len() != HANDSHAKE_LEN {
            return Err(WireError::BadHandshakeLength { got: bytes.len() });
        }
        check_handshake_prefix(bytes)?;
        let mut h = Handshake {
            reserved: [0; 8],
            info_hash: InfoHash::default(),
            peer_id: PeerId::default(),
        };
        h.reserved.copy_from_slice(&bytes[20..28]);
        h.info_hash.0.copy_from_slice(&bytes[28..48]);
        h.peer_id.0.copy_from_slice(&bytes[48..68]);
        Ok(h)
    }
}

/// A BEP 3 or BEP 10 message after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have {
        index: u32,
    },
    /// The raw payload; [`crate::bitfield::Bitfield::from_wire`] checks it against the torrent.
    Bitfield(Vec<u8>),
    Request {
        index: u32,
        begin: u32,
        length: u32,
    },
    Piece {
        index: u32,
        begin: u32,
        data: Vec<u8>,
    },
    Cancel {
        index: u32,
        begin: u32,
        length: u32,
    },
    /// BEP 10: `id` 0 is the extended handshake, others are the ids we assigned in ours.
    Extended {
        id: u8,
        payload: Vec<u8>,
    },
}

impl Message {
    /// Appends the message, with its 4-byte length prefix, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Message::KeepAlive => out.extend_from_slice(&0u32.to_be_bytes()),
            Message::Choke => simple(out, id::CHOKE),
            Message::Unchoke => simple(out, id::UNCHOKE),
            Message::Interested => simple(out, id::INTERESTED),
            Message::NotInterested => simple(out, id::NOT_INTERESTED),
            Message::Have { index } => {
                prefix(out, 5, id::HAVE);
                out.extend_from_slice(&index.to_be_bytes());
            }
            Message::Bitfield(bits) => {
                prefix(out, wire_len(bits.len()).saturating_add(1), id::BITFIELD);
                out.extend_from_slice(bits);
            }
            Message::Request {
                index,
                begin,
                length,
            } => triple(out, id::REQUEST, *index, *begin, *length),
            Message::Piece { index, begin, data } => Self::encode_piece(*index, *begin, data, out),
            Message::Cancel {
                index,
                begin,
                length,
            } => triple(out, id::CANCEL, *index, *begin, *length),
            Message::Extended { id, payload } => {
                prefix(out, wire_len(payload.len()).saturating_add(2), id::EXTENDED);
                out.push(*id);
                out.extend_from_slice(payload);
            }
        }
    }

    /// Appends a `piece` message for `data` without building a [`Message`] (no extra copy).
    pub fn encode_piece(index: u32, begin: u32, data: &[u8], out: &mut Vec<u8>) {
        Self::encode_piece_header(index, begin, wire_len(data.len()), out);
        out.extend_from_slice(data);
    }

    /// Appends the 13-byte header of a `piece` message whose block is `block_len` bytes; the
    /// block itself must follow.
    pub fn encode_piece_header(index: u32, begin: u32, block_len: u32, out: &mut Vec<u8>) {
        prefix(out, block_len.saturating_add(9), id::PIECE);
        out.extend_from_slice(&index.to_be_bytes());
        out.extend_from_slice(&begin.to_be_bytes());
    }

    /// Bytes [`encode`](Self::encode) appends, length prefix included.
    pub fn encoded_len(&self) -> usize {
        let body: usize = match self {
            Message::KeepAlive => 0,
            Message::Choke | Message::Unchoke | Message::Interested | Message::NotInterested => 1,
            Message::Have { .. } => 5,
            Message::Bitfield(b) => b.len().saturating_add(1),
            Message::Request { .. } | Message::Cancel { .. } => 13,
            Message::Piece { data, .. } => data.len().saturating_add(9),
            Message::Extended { payload, .. } => payload.len().saturating_add(2),
        };
        body.saturating_add(4)
    }
}

/// Checks as much of the handshake's first 20 bytes as has arrived.
fn check_handshake_prefix(bytes: &[u8]) -> Result<(), WireError> {
    if let Some(&n) = bytes.first() {
        if n != 19 {
            return Err(WireError::BadProtocolLength { got: n });
        }
    }
    let have = bytes.len().min(20);
    if have > 1 && bytes[1..have] != PROTOCOL[..have.saturating_sub(1)] {
        return Err(WireError::BadProtocolString);
    }
    Ok(())
}

/// A payload length as a wire `u32`; payloads we build are far below 4 GiB.
fn wire_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn prefix(out: &mut Vec<u8>, len: u32, msg_id: u8) {
    out.extend_from_slice(&len.to_be_bytes());
    out.push(msg_id);
}

fn simple(out: &mut Vec<u8>, msg_id: u8) {
    prefix(out, 1, msg_id);
}

fn triple(out: &mut Vec<u8>, msg_id: u8, a: u32, b: u32, c: u32) {
    prefix(out, 13, msg_id);
    out.extend_from_slice(&a.to_be_bytes());
    out.extend_from_slice(&b.to_be_bytes());
    out.extend_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)] // Test code: overflow would fail the test.
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const INFO_HASH: InfoHash = InfoHash([0xab; 20]);
    const PEER_ID: PeerId = PeerId(*b"-TS0001-abcdefghijkl");

    /// BEP 6 bit (we never negotiate the fast extension).
    fn supports_fast(h: &Handshake) -> bool {
        h.reserved[7] & 0x04 != 0
    }

    #[test]
    fn handshake_layout_and_reserved_bits() {
        let h = Handshake::new(INFO_HASH, PEER_ID);
        let b = h.encode();
        assert_eq!(b[0], 19);
        assert_eq!(&b[1..20], b"BitTorrent protocol");
        assert_eq!(&b[20..28], &[0, 0, 0, 0, 0, 0x10, 0, 0]);
        assert!(h.supports_extended() && !supports_fast(&h));
        assert_eq!(Handshake::decode(&b), Ok(h));
        // WebTorrent's reserved bytes: extended + fast.
        let mut wt = b;
        wt[27] = 0x04;
        let parsed = Handshake::decode(&wt).unwrap();
        assert!(parsed.supports_extended() && supports_fast(&parsed));
    }

    #[test]
    fn known_encodings() {
        let mut out = Vec::new();
        Message::Have { index: 5 }.encode(&mut out);
        assert_eq!(out, [0, 0, 0, 5, 4, 0, 0, 0, 5]);
        out.clear();
        Message::Interested.encode(&mut out);
        Message::KeepAlive.encode(&mut out);
        assert_eq!(out, [0, 0, 0, 1, 2, 0, 0, 0, 0]);
        out.clear();
        Message::Request {
            index: 1,
            begin: 2,
            length: 3,
        }
        .encode(&mut out);
        assert_eq!(out, [0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
        out.clear();
        Message::encode_piece(9, 16384, b"xy", &mut out);
        assert_eq!(out, [0, 0, 0, 11, 7, 0, 0, 0, 9, 0, 0, 64, 0, b'x', b'y']);
    }
}
