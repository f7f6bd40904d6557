//! JSON decoding: lenient where clients differ, strict where routing depends on it.
//!
//! Messages are read into `Raw*` structs whose fields never fail on a wrong value (they
//! record what is wrong instead), then converted, so an error can name its field and carry
//! the `action` and `info_hash` that were readable.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::*;

pub(super) fn short(mut s: String) -> String {
    const MAX: usize = 64;
    if s.len() > MAX {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// An id field as read: its value or what is wrong with it (non-strings count as wrong length).
pub(super) struct RawId(pub(super) Result<[u8; 20], IdProblem>);

impl<'de> Deserialize<'de> for RawId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawIdVisitor)
    }
}

struct RawIdVisitor;

impl<'de> Visitor<'de> for RawIdVisitor {
    type Value = RawId;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 20-character binary string")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<RawId, E> {
        Ok(RawId(parse_binary_str(s)))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawId, E> {
        Ok(RawId(Err(IdProblem::Length)))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawId, E> {
        Ok(RawId(Err(IdProblem::Length)))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawId, E> {
        Ok(RawId(Err(IdProblem::Length)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawId, E> {
        Ok(RawId(Err(IdProblem::Length)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawId, E> {
        Ok(RawId(Err(IdProblem::Length)))
    }
}

/// `info_hash` in a scrape: one binary string or an array of them.
enum RawIds {
    One(RawId),
    Many(Vec<RawId>),
}

impl<'de> Deserialize<'de> for RawIds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawIds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a binary string or an array of them")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawIds, E> {
                Ok(RawIds::One(RawId(parse_binary_str(s))))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawIds, E> {
                Ok(RawIds::One(RawId(Err(IdProblem::Length))))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawIds, E> {
                Ok(RawIds::One(RawId(Err(IdProblem::Length))))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawIds, E> {
                Ok(RawIds::One(RawId(Err(IdProblem::Length))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawIds, E> {
                Ok(RawIds::One(RawId(Err(IdProblem::Length))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawIds, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(id) = seq.next_element::<RawId>()? {
                    v.push(id);
                }
                Ok(RawIds::Many(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A number as JavaScript clients send it: integer, float, numeric string. Negative and
/// fractional values are clamped/truncated; a non-numeric string reads as absent.
struct Num(Option<u64>);

impl Num {
    fn u64(n: Option<Num>) -> Option<u64> {
        n.and_then(|n| n.0)
    }
    fn u32(n: Option<Num>) -> Option<u32> {
        Num::u64(n).map(|v| u32::try_from(v).unwrap_or(u32::MAX))
    }
}

fn f64_to_u64(f: f64) -> Option<u64> {
    if f.is_nan() {
        return None;
    }
    // `as` saturates (negative -> 0, too big -> u64::MAX) and truncates the fraction.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let v = f as u64;
    Some(v)
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(Some(u64::try_from(v).unwrap_or(0))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(f64_to_u64(v)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Num, E> {
                Ok(Num(s.trim().parse::<f64>().ok().and_then(f64_to_u64)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `action` as read: known, or the unknown text.
enum RawAction {
    Known(Action),
    Unknown(String),
}

impl<'de> Deserialize<'de> for RawAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAction;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an action string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawAction, E> {
                Ok(match s {
                    "announce" => RawAction::Known(Action::Announce),
                    "scrape" => RawAction::Known(Action::Scrape),
                    other => RawAction::Unknown(short(other.to_owned())),
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawAction, E> {
                Ok(RawAction::Unknown(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawAction, E> {
                Ok(RawAction::Unknown(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawAction, E> {
                Ok(RawAction::Unknown(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawAction, E> {
                Ok(RawAction::Unknown(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawAction, E> {
                Ok(RawAction::Unknown("null".to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `event` as read: known, or the unknown text.
struct RawEvent(Result<Event, String>);

impl<'de> Deserialize<'de> for RawEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEvent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawEvent, E> {
                Ok(RawEvent(Event::parse(s).ok_or_else(|| short(s.to_owned()))))
            }
        }
        d.deserialize_str(V)
    }
}

#[derive(Deserialize)]
struct RawOffer {
    offer: Sdp,
    offer_id: RawId,
}

#[derive(Deserialize)]
pub(super) struct RawClient {
    action: Option<RawAction>,
    info_hash: Option<RawIds>,
    peer_id: Option<RawId>,
    event: Option<RawEvent>,
    numwant: Option<Num>,
    uploaded: Option<Num>,
    downloaded: Option<Num>,
    left: Option<Num>,
    offers: Option<Vec<RawOffer>>,
    answer: Option<Sdp>,
    to_peer_id: Option<RawId>,
    offer_id: Option<RawId>,
    trackerid: Option<String>,
}

fn id_field(raw: Option<RawId>, field: &'static str) -> Result<Option<[u8; 20]>, ProtoError> {
    match raw {
        None => Ok(None),
        Some(RawId(r)) => r.map(Some).map_err(|p| p.into_error(field)),
    }
}

fn required(raw: Option<RawId>, field: &'static str) -> Result<[u8; 20], ProtoError> {
    id_field(raw, field)?.ok_or(ProtoError::Missing { field })
}

impl RawClient {
    pub(super) fn into_message(self) -> Result<ClientMessage, DecodeError> {
        let action = match self.action {
            Some(RawAction::Known(a)) => a,
            Some(RawAction::Unknown(s)) => {
                return Err(DecodeError::bare(ProtoError::UnknownAction(s)))
            }
            None => {
                return Err(DecodeError::bare(ProtoError::UnknownAction(
                    "undefined".to_owned(),
                )))
            }
        };
        let fail = |info_hash: Option<InfoHash>, error| DecodeError {
            action: Some(action),
            info_hash,
            error,
        };
        match action {
            Action::Scrape => {
                let info_hashes = match self.info_hash {
                    None => Vec::new(),
                    Some(RawIds::One(id)) => vec![InfoHash(
                        required(Some(id), "info_hash").map_err(|e| fail(None, e))?,
                    )],
                    Some(RawIds::Many(ids)) => ids
                        .into_iter()
                        .map(|id| required(Some(id), "info_hash").map(InfoHash))
                        .collect::<Result<_, _>>()
                        .map_err(|e| fail(None, e))?,
                };
                Ok(ClientMessage::Scrape(ScrapeRequest { info_hashes }))
            }
            Action::Announce => {
                let info_hash = match self.info_hash {
                    Some(RawIds::One(id)) => required(Some(id), "info_hash"),
                    Some(RawIds::Many(_)) => Err(ProtoError::IdLength { field: "info_hash" }),
                    None => Err(ProtoError::Missing { field: "info_hash" }),
                }
                .map(InfoHash)
                .map_err(|e| fail(None, e))?;
                let ih = Some(info_hash);
                let peer_id = PeerId(required(self.peer_id, "peer_id").map_err(|e| fail(ih, e))?);
                let event = match self.event {
                    None => None,
                    Some(RawEvent(Ok(e))) => Some(e),
                    Some(RawEvent(Err(s))) => return Err(fail(ih, ProtoError::InvalidEvent(s))),
                };
                let offers = self
                    .offers
                    .unwrap_or_default()
                    .into_iter()
                    .map(|o| {
                        Ok(Offer {
                            offer: o.offer,
                            offer_id: OfferId(required(Some(o.offer_id), "offer_id")?),
                        })
                    })
                    .collect::<Result<Vec<_>, ProtoError>>()
                    .map_err(|e| fail(ih, e))?;
                let answer = match self.answer {
                    None => None,
                    Some(answer) => Some(Answer {
                        to_peer_id: PeerId(
                            required(self.to_peer_id, "to_peer_id").map_err(|e| fail(ih, e))?,
                        ),
                        offer_id: OfferId(
                            required(self.offer_id, "offer_id").map_err(|e| fail(ih, e))?,
                        ),
                        answer,
                    }),
                };
                Ok(ClientMessage::Announce(AnnounceRequest {
                    info_hash,
                    peer_id,
                    event,
                    numwant: Num::u32(self.numwant),
                    uploaded: Num::u64(self.uploaded),
                    downloaded: Num::u64(self.downloaded),
                    left: Num::u64(self.left),
                    offers,
                    answer,
                    trackerid: self.trackerid,
                }))
            }
        }
    }
}

#[derive(Deserialize)]
struct RawStats {
    complete: Option<Num>,
    incomplete: Option<Num>,
    downloaded: Option<Num>,
}

#[derive(Deserialize)]
struct RawFlags {
    min_request_interval: Option<Num>,
}

/// `files` of a scrape response, keeping the order; a bad key fails the whole message.
struct RawFiles(Result<Vec<(InfoHash, ScrapeStats)>, IdProblem>);

impl<'de> Deserialize<'de> for RawFiles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFiles;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of info hashes to counts")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFiles, A::Error> {
                let mut files = Vec::new();
                let mut bad = None;
                while let Some((RawId(k), v)) = map.next_entry::<RawId, RawStats>()? {
                    match k {
                        Ok(h) => files.push((
                            InfoHash(h),
                            ScrapeStats {
                                complete: Num::u32(v.complete).unwrap_or(0),
                                incomplete: Num::u32(v.incomplete).unwrap_or(0),
                                downloaded: Num::u32(v.downloaded).unwrap_or(0),
                            },
                        )),
                        Err(p) => bad = Some(p),
                    }
                }
                Ok(RawFiles(bad.map_or(Ok(files), Err)))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
pub(super) struct RawTracker {
    action: Option<RawAction>,
    info_hash: Option<RawId>,
    peer_id: Option<RawId>,
    offer_id: Option<RawId>,
    offer: Option<Sdp>,
    answer: Option<Sdp>,
    complete: Option<Num>,
    incomplete: Option<Num>,
    interval: Option<Num>,
    #[serde(rename = "min interval")]
    min_interval: Option<Num>,
    #[serde(rename = "tracker id")]
    tracker_id: Option<String>,
    #[serde(rename = "warning message")]
    warning_message: Option<String>,
    #[serde(rename = "failure reason")]
    failure_reason: Option<String>,
    files: Option<RawFiles>,
    flags: Option<RawFlags>,
}

impl RawTracker {
    pub(super) fn into_message(self) -> Result<TrackerMessage, DecodeError> {
        let action = match self.action {
            Some(RawAction::Known(a)) => Some(a),
            Some(RawAction::Unknown(s)) => {
                return Err(DecodeError::bare(ProtoError::UnknownAction(s)))
            }
            None => None,
        };
        let info_hash = id_field(self.info_hash, "info_hash")
            .map_err(|e| DecodeError {
                action,
                info_hash: None,
                error: e,
            })?
            .map(InfoHash);
        let fail = |error| DecodeError {
            action,
            info_hash,
            error,
        };
        if let Some(reason) = self.failure_reason {
            return Ok(TrackerMessage::Failure(Failure {
                action,
                info_hash,
                reason,
            }));
        }
        match action {
            None => Err(fail(ProtoError::UnknownAction("undefined".to_owned()))),
            Some(Action::Scrape) => {
                let files = match self.files {
                    None => Vec::new(),
                    Some(RawFiles(r)) => r.map_err(|p| fail(p.into_error("info_hash")))?,
                };
                Ok(TrackerMessage::ScrapeResponse(ScrapeResponse {
                    files,
                    min_request_interval: self.flags.and_then(|f| Num::u32(f.min_request_interval)),
                }))
            }
            Some(Action::Announce) => {
                let info_hash =
                    info_hash.ok_or_else(|| fail(ProtoError::Missing { field: "info_hash" }))?;
                if self.offer.is_some() || self.answer.is_some() {
                    let peer_id = PeerId(required(self.peer_id, "peer_id").map_err(fail)?);
                    let offer_id = OfferId(required(self.offer_id, "offer_id").map_err(fail)?);
                    if let Some(offer) = self.offer {
                        return Ok(TrackerMessage::Offer(OfferForward {
                            info_hash,
                            peer_id,
                            offer_id,
                            offer,
                        }));
                    }
                    if let Some(answer) = self.answer {
                        return Ok(TrackerMessage::Answer(AnswerForward {
                            info_hash,
                            peer_id,
                            offer_id,
                            answer,
                        }));
                    }
                }
                Ok(TrackerMessage::AnnounceResponse(AnnounceResponse {
                    info_hash,
                    complete: Num::u32(self.complete),
                    incomplete: Num::u32(self.incomplete),
                    interval: Num::u32(self.interval)
                        .filter(|&i| i > 0)
                        .or(Num::u32(self.min_interval)),
                    tracker_id: self.tracker_id,
                    warning_message: self.warning_message,
                }))
            }
        }
    }
}
