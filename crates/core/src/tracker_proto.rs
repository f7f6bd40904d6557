//! WebTorrent WebSocket tracker messages: JSON objects in WebSocket text frames.
//!
//! IO-free and shared by the browser tracker client and the native tracker. Two directions:
//! [`ClientMessage`] (peer to tracker: announce, answer, scrape) and [`TrackerMessage`]
//! (tracker to peer: announce response, forwarded offer, forwarded answer, scrape response,
//! failure). Field names and shapes follow bittorrent-tracker 11 and aquatic_ws (see
//! `webtorrent-protocol.md`, section 1).
//!
//! The 20-byte values (`info_hash`, `peer_id`, `offer_id`, `to_peer_id`) travel as *binary
//! strings*: exactly 20 characters, each one byte (U+0000..U+00FF, Latin-1). [`InfoHash`],
//! [`PeerId`] and [`OfferId`] hold the bytes and (de)serialize in that form; anything else is
//! rejected with a [`ProtoError`] naming the field.
//!
//! Decoding is lenient where real clients differ (numbers may be floats, numeric strings or
//! `null`; unknown fields are ignored) and strict where a wrong value would confuse routing
//! (ids, `action`, `event`, SDP objects). Nothing here panics on any input.
//!
//! ```
//! use tabswarm_core::tracker_proto::*;
//! let msg = ClientMessage::Scrape(ScrapeRequest { info_hashes: vec![InfoHash([0x41; 20])] });
//! let json = msg.to_json();
//! assert_eq!(json, r#"{"action":"scrape","info_hash":"AAAAAAAAAAAAAAAAAAAA"}"#);
//! assert_eq!(ClientMessage::from_json(json.as_bytes()).unwrap(), msg);
//! ```

use std::fmt;

#[cfg(feature = "json")]
use serde::de::{self, Deserializer};
#[cfg(feature = "json")]
use serde::ser::Serializer;
#[cfg(feature = "json")]
use serde::{Deserialize, Serialize};

#[cfg(feature = "json")]
use decode::{RawClient, RawId};
#[cfg(feature = "json")]
use encode::{latin1, to_json};

/// The announce interval (seconds) that WebTorrent trackers send: 120.
pub const DEFAULT_INTERVAL_SECS: u32 = 120;

pub use crate::ids::{InfoHash, OfferId, PeerId};

/// The tracker's wire form of a 20-byte id: a binary string (see the module docs).
macro_rules! binary_string_form {
    ($name:ident, $field:literal) => {
        impl $name {
            /// Parses a 20-character binary string (one char per byte, each <= U+00FF).
            pub fn from_binary_str(s: &str) -> Result<Self, ProtoError> {
                parse_binary_str(s)
                    .map($name)
                    .map_err(|p| p.into_error($field))
            }
            /// The binary-string form (20 chars, Latin-1) used on the wire.
            pub fn to_binary_string(&self) -> String {
                self.0.iter().map(|&b| char::from(b)).collect()
            }
        }

        #[cfg(feature = "json")]
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut buf = [0u8; 40];
                s.serialize_str(latin1(&self.0, &mut buf))
            }
        }

        #[cfg(feature = "json")]
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = RawId::deserialize(d)?;
                raw.0
                    .map($name)
                    .map_err(|p| de::Error::custom(p.into_error($field)))
            }
        }
    };
}

binary_string_form!(InfoHash, "info_hash");
binary_string_form!(PeerId, "peer_id");
binary_string_form!(OfferId, "offer_id");

/// Why a message was rejected. Each variant is one rule of the protocol; the `Display` text is
/// what a tracker puts in `failure reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    /// The bytes are not a JSON object of the expected shape: a syntax error, invalid UTF-8,
    /// a field of the wrong JSON type, or a malformed SDP object. Holds serde's description.
    InvalidJson(String),
    /// `action` is missing or not `announce`/`scrape` (holds the value, cut to 64 chars).
    UnknownAction(String),
    /// A 20-byte id field is not a string of exactly 20 characters.
    IdLength { field: &'static str },
    /// A 20-byte id field has a character above U+00FF, so it is not a binary string.
    IdNotLatin1 { field: &'static str },
    /// A required field is absent: `info_hash` and `peer_id` in an announce, `to_peer_id` and
    /// `offer_id` next to an `answer`, `info_hash` in tracker announce messages.
    Missing { field: &'static str },
    /// `event` is not one of `started`, `stopped`, `completed`, `update`, `paused`.
    InvalidEvent(String),
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::InvalidJson(e) => write!(f, "invalid JSON: {e}"),
            ProtoError::UnknownAction(a) => write!(f, "invalid action in WS request: {a}"),
            ProtoError::IdLength { field } => {
                write!(f, "invalid {field}: must be a string of 20 characters")
            }
            ProtoError::IdNotLatin1 { field } => {
                write!(f, "invalid {field}: characters must be in U+0000..U+00FF")
            }
            ProtoError::Missing { field } => write!(f, "missing {field}"),
            ProtoError::InvalidEvent(e) => write!(f, "invalid event: {e}"),
        }
    }
}

impl std::error::Error for ProtoError {}

/// A rejected message, with what could be read of it so the failure reply can carry the
/// `action` and `info_hash` (bittorrent-tracker's client drops a reply that lacks either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub action: Option<Action>,
    pub info_hash: Option<InfoHash>,
    pub error: ProtoError,
}

impl DecodeError {
    fn bare(error: ProtoError) -> DecodeError {
        DecodeError {
            action: None,
            info_hash: None,
            error,
        }
    }

    /// A message that is not JSON, with the parser's description (cut to 64 chars).
    pub fn invalid_json(description: String) -> DecodeError {
        DecodeError::bare(ProtoError::InvalidJson(short(description)))
    }

    /// The reply a tracker sends for this error.
    pub fn to_failure(&self) -> TrackerMessage {
        TrackerMessage::Failure(Failure {
            action: self.action,
            info_hash: self.info_hash,
            reason: self.error.to_string(),
        })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for DecodeError {}

/// The `action` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Announce,
    Scrape,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Announce => "announce",
            Action::Scrape => "scrape",
        }
    }
}

/// The announce `event`; an absent event means a periodic update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Started,
    Stopped,
    Completed,
    /// Sent explicitly by some clients; the same as no event.
    Update,
    /// In bittorrent-tracker's event list; trackers treat it like an update.
    Paused,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Started => "started",
            Event::Stopped => "stopped",
            Event::Completed => "completed",
            Event::Update => "update",
            Event::Paused => "paused",
        }
    }

    #[cfg(feature = "json")]
    fn parse(s: &str) -> Option<Event> {
        Some(match s {
            "started" => Event::Started,
            "stopped" => Event::Stopped,
            "completed" => Event::Completed,
            "update" => Event::Update,
            "paused" => Event::Paused,
            _ => return None,
        })
    }
}

/// `"offer"` or `"answer"`, the `type` of an SDP object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "json", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "json", serde(rename_all = "lowercase"))]
pub enum SdpType {
    Offer,
    Answer,
}

/// A WebRTC session description as WebTorrent sends it: `{"type": "offer"|"answer", "sdp": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(Serialize, Deserialize))]
pub struct Sdp {
    #[cfg_attr(feature = "json", serde(rename = "type"))]
    pub kind: SdpType,
    pub sdp: String,
}

/// One entry of an announce's `offers`: `{"offer": {type, sdp}, "offer_id": <binary>}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(Serialize, Deserialize))]
pub struct Offer {
    pub offer: Sdp,
    pub offer_id: OfferId,
}

/// The answer part of an announce that replies to a forwarded offer (`answer`, `to_peer_id`,
/// `offer_id` on the wire, flat in the announce object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The peer that made the offer.
    pub to_peer_id: PeerId,
    /// The offer's id, echoed.
    pub offer_id: OfferId,
    pub answer: Sdp,
}

/// A client's `announce`. The fields are optional on the wire except the two ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    /// `None`: a periodic update (and an answer carries no event).
    pub event: Option<Event>,
    pub numwant: Option<u32>,
    pub uploaded: Option<u64>,
    pub downloaded: Option<u64>,
    /// Bytes left to download; `Some(0)` makes the peer a seeder. `None` when unknown.
    pub left: Option<u64>,
    /// Offers to forward, one per peer; empty is sent as no `offers` key.
    pub offers: Vec<Offer>,
    pub answer: Option<Answer>,
    /// Echo of a tracker's `tracker id`.
    pub trackerid: Option<String>,
}

impl AnnounceRequest {
    /// An announce with only the ids set (add offers, event etc. as needed).
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> AnnounceRequest {
        AnnounceRequest {
            info_hash,
            peer_id,
            event: None,
            numwant: None,
            uploaded: None,
            downloaded: None,
            left: None,
            offers: Vec::new(),
            answer: None,
            trackerid: None,
        }
    }
}

/// A client's `scrape`. An empty list is a full scrape (no `info_hash` key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeRequest {
    pub info_hashes: Vec<InfoHash>,
}

/// Peer to tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    Announce(AnnounceRequest),
    Scrape(ScrapeRequest),
}

impl ClientMessage {
    #[cfg(feature = "json")]
    /// Decodes one WebSocket message (text or binary frame payload).
    pub fn from_json(bytes: &[u8]) -> Result<ClientMessage, DecodeError> {
        let raw: RawClient = serde_json::from_slice(bytes)
            .map_err(|e| DecodeError::bare(ProtoError::InvalidJson(short(e.to_string()))))?;
        raw.into_message()
    }

    /// The JSON text to send.
    #[cfg(feature = "json")]
    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

/// The tracker's reply to an announce (not to an answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceResponse {
    pub info_hash: InfoHash,
    /// Seeders.
    pub complete: Option<u32>,
    /// Leechers.
    pub incomplete: Option<u32>,
    /// Seconds until the next announce (`interval`, or `min interval` when only that is sent).
    pub interval: Option<u32>,
    /// `tracker id`, to be echoed as `trackerid`.
    pub tracker_id: Option<String>,
    /// `warning message`: the request was handled but something is off.
    pub warning_message: Option<String>,
}

/// An offer forwarded by the tracker: `peer_id` is the offerer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferForward {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub offer_id: OfferId,
    pub offer: Sdp,
}

/// An answer forwarded by the tracker: `peer_id` is the answerer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerForward {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub offer_id: OfferId,
    pub answer: Sdp,
}

/// Counts for one torrent in a scrape response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScrapeStats {
    pub complete: u32,
    pub incomplete: u32,
    pub downloaded: u32,
}

/// `{"action":"scrape","files":{<info_hash>:{complete,incomplete,downloaded}},"flags":{...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeResponse {
    /// Written in this order; read sorted by info hash (a JSON object has no order).
    pub files: Vec<(InfoHash, ScrapeStats)>,
    /// `flags.min_request_interval` in seconds.
    pub min_request_interval: Option<u32>,
}

/// `{"failure reason": ...}` with `action` and `info_hash` when the request had them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub action: Option<Action>,
    pub info_hash: Option<InfoHash>,
    pub reason: String,
}

/// Tracker to peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerMessage {
    AnnounceResponse(AnnounceResponse),
    Offer(OfferForward),
    Answer(AnswerForward),
    ScrapeResponse(ScrapeResponse),
    Failure(Failure),
}

impl TrackerMessage {
    #[cfg(feature = "json")]
    /// Decodes one message from a tracker. `failure reason` wins over everything else; an
    /// announce with `offer` is an [`OfferForward`], with `answer` an [`AnswerForward`],
    /// otherwise an [`AnnounceResponse`].
    pub fn from_json(bytes: &[u8]) -> Result<TrackerMessage, DecodeError> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::invalid_json(e.to_string()))?;
        read_tracker_message(&v)
    }

    /// The JSON text to send.
    #[cfg(feature = "json")]
    pub fn to_json(&self) -> String {
        // Sized up front: SDPs gain a few bytes of escapes, the rest is under 200 bytes.
        let hint = match self {
            TrackerMessage::Offer(o) => o.offer.sdp.len() + o.offer.sdp.len() / 8 + 200,
            TrackerMessage::Answer(a) => a.answer.sdp.len() + a.answer.sdp.len() / 8 + 200,
            TrackerMessage::ScrapeResponse(r) => 64 + r.files.len() * 128,
            TrackerMessage::Failure(f) => 128 + f.reason.len(),
            TrackerMessage::AnnounceResponse(_) => 192,
        };
        let mut buf = Vec::with_capacity(hint);
        self.write_json(&mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    #[cfg(feature = "json")]
    /// Appends the JSON text to `buf` (lets a server reuse one buffer).
    pub fn write_json(&self, buf: &mut Vec<u8>) {
        // Serializing into a Vec cannot fail: every map key is a string and there are no floats.
        let _ = serde_json::to_writer(buf, self);
    }

    /// A failure reply.
    pub fn failure(
        action: Option<Action>,
        info_hash: Option<InfoHash>,
        reason: impl Into<String>,
    ) -> TrackerMessage {
        TrackerMessage::Failure(Failure {
            action,
            info_hash,
            reason: reason.into(),
        })
    }
}

/// What is wrong with a would-be binary string, before we know which field it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdProblem {
    Length,
    NotLatin1,
}

impl IdProblem {
    fn into_error(self, field: &'static str) -> ProtoError {
        match self {
            IdProblem::Length => ProtoError::IdLength { field },
            IdProblem::NotLatin1 => ProtoError::IdNotLatin1 { field },
        }
    }
}

fn parse_binary_str(s: &str) -> Result<[u8; 20], IdProblem> {
    let mut out = [0u8; 20];
    let mut n = 0usize;
    for c in s.chars() {
        let b = u8::try_from(u32::from(c)).map_err(|_| IdProblem::NotLatin1)?;
        *out.get_mut(n).ok_or(IdProblem::Length)? = b;
        n += 1;
    }
    if n == 20 {
        Ok(out)
    } else {
        Err(IdProblem::Length)
    }
}

#[cfg(feature = "json")]
mod decode;
mod view;
use view::short;
pub use view::{read_tracker_message, JsonKind, JsonView};
#[cfg(feature = "json")]
mod encode;
#[cfg(all(test, feature = "json"))]
mod tests;
