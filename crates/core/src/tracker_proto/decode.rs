//! Decoding a client's messages (the tracker's side), streamed by serde: lenient where clients
//! differ, strict where routing depends on it. A tracker's messages are read in `view.rs`;
//! numbers follow the same rule in both.
//!
//! Messages are read into `Raw*` structs whose fields never fail on a wrong value (they
//! record what is wrong instead), then converted, so an error can name its field and carry
//! the `action` and `info_hash` that were readable.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::*;

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
                Ok(Num(view::decimal_number(s)))
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
