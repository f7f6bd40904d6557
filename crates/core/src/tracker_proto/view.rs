//! Reading a tracker's messages out of parsed JSON: the rules, written once over [`JsonView`].
//!
//! Natively the JSON is parsed by serde_json (`TrackerMessage::from_json`, feature `json`); the
//! browser parses with its own `JSON.parse` and views the `JsValue` (src/tracker_json.rs), which
//! keeps serde_json and Rust's float parsing out of the wasm. Either way the same function
//! below decides what the message says.
//!
//! Lenient where trackers differ, strict where routing depends on it:
//! - `null` is the same as an absent field; unknown fields are ignored; only the fields the
//!   message's kind uses are looked at (a failure is read without its `offer`, say).
//! - A count (`complete`, `incomplete`, `interval`, ...) is a number or a decimal numeric
//!   string; fractions are truncated, negatives read as 0, too big as `u32::MAX`; any other
//!   value (a boolean, an object, `"many"`) reads as absent.
//! - `tracker id` and `warning message` that are not strings read as absent.
//! - Ids, `action`, `failure reason` and SDP objects of a wrong shape are errors.

use super::*;

/// What a JSON value is; a string is copied out.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonKind {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array,
    Object,
}

/// A parsed JSON value, as much of it as the message rules look at.
pub trait JsonView: Sized {
    /// The member `key` of an object; `None` when it is absent or `null`, or `self` is not
    /// an object.
    fn get(&self, key: &str) -> Option<Self>;
    /// What the value is.
    fn kind(&self) -> JsonKind;
    /// An object's keys (none when `self` is not an object).
    fn keys(&self) -> Vec<String>;
}

/// Reads one message from a tracker. `failure reason` wins over everything else; an
/// announce with `offer` is an [`OfferForward`], with `answer` an [`AnswerForward`],
/// otherwise an [`AnnounceResponse`].
pub fn read_tracker_message<V: JsonView>(v: V) -> Result<TrackerMessage, DecodeError> {
    if v.kind() != JsonKind::Object {
        return Err(DecodeError::invalid_json("not a JSON object".to_owned()));
    }
    let action = match v.get("action").map(|a| a.kind()) {
        None => None,
        Some(JsonKind::String(s)) => match s.as_str() {
            "announce" => Some(Action::Announce),
            "scrape" => Some(Action::Scrape),
            _ => return Err(DecodeError::bare(ProtoError::UnknownAction(short(s)))),
        },
        Some(other) => {
            return Err(DecodeError::bare(ProtoError::UnknownAction(describe(
                &other,
            ))))
        }
    };
    let info_hash =
        id(&v, "info_hash", InfoHash::from_binary_str).map_err(|error| DecodeError {
            action,
            info_hash: None,
            error,
        })?;
    let fail = |error| DecodeError {
        action,
        info_hash,
        error,
    };
    if let Some(reason) = v.get("failure reason") {
        let JsonKind::String(reason) = reason.kind() else {
            return Err(fail(ProtoError::InvalidJson(
                "failure reason is not a string".to_owned(),
            )));
        };
        return Ok(TrackerMessage::Failure(Failure {
            action,
            info_hash,
            reason,
        }));
    }
    match action {
        None => Err(fail(ProtoError::UnknownAction("undefined".to_owned()))),
        Some(Action::Scrape) => scrape_response(&v).map_err(fail),
        Some(Action::Announce) => {
            let info_hash =
                info_hash.ok_or_else(|| fail(ProtoError::Missing { field: "info_hash" }))?;
            let ids = || -> Result<(PeerId, OfferId), DecodeError> {
                let peer_id = required(&v, "peer_id", PeerId::from_binary_str).map_err(fail)?;
                let offer_id = required(&v, "offer_id", OfferId::from_binary_str).map_err(fail)?;
                Ok((peer_id, offer_id))
            };
            Ok(match (v.get("offer"), v.get("answer")) {
                (None, None) => TrackerMessage::AnnounceResponse(AnnounceResponse {
                    info_hash,
                    complete: count(&v, "complete"),
                    incomplete: count(&v, "incomplete"),
                    interval: count(&v, "interval")
                        .filter(|&i| i > 0)
                        .or_else(|| count(&v, "min interval")),
                    tracker_id: text(&v, "tracker id"),
                    warning_message: text(&v, "warning message"),
                }),
                (Some(offer), _) => {
                    let (peer_id, offer_id) = ids()?;
                    TrackerMessage::Offer(OfferForward {
                        info_hash,
                        peer_id,
                        offer_id,
                        offer: sdp(&offer).map_err(fail)?,
                    })
                }
                (None, Some(answer)) => {
                    let (peer_id, offer_id) = ids()?;
                    TrackerMessage::Answer(AnswerForward {
                        info_hash,
                        peer_id,
                        offer_id,
                        answer: sdp(&answer).map_err(fail)?,
                    })
                }
            })
        }
    }
}

fn scrape_response<V: JsonView>(v: &V) -> Result<TrackerMessage, ProtoError> {
    let mut files: Vec<(InfoHash, ScrapeStats)> = Vec::new();
    if let Some(f) = v.get("files") {
        if f.kind() != JsonKind::Object {
            return Err(ProtoError::InvalidJson("files is not an object".to_owned()));
        }
        for key in f.keys() {
            let h = InfoHash::from_binary_str(&key)?;
            let stats = f.get(&key);
            let n = |k| stats.as_ref().and_then(|s| count(s, k)).unwrap_or(0);
            files.push((
                h,
                ScrapeStats {
                    complete: n("complete"),
                    incomplete: n("incomplete"),
                    downloaded: n("downloaded"),
                },
            ));
        }
    }
    // A JSON object has no order (and the parsers keep different ones): by info hash.
    // Insertion sort: there are few, and `sort` would add a few KB to the wasm.
    for i in 1..files.len() {
        let mut j = i;
        while j > 0 && files[j - 1].0 > files[j].0 {
            files.swap(j - 1, j);
            j -= 1;
        }
    }
    Ok(TrackerMessage::ScrapeResponse(ScrapeResponse {
        files,
        min_request_interval: v
            .get("flags")
            .and_then(|f| count(&f, "min_request_interval")),
    }))
}

/// A 20-byte id: absent, or a binary string (any other value is the wrong length). `parse` is
/// the id type's own, which names the field in its errors.
fn id<V: JsonView, T>(
    v: &V,
    key: &'static str,
    parse: fn(&str) -> Result<T, ProtoError>,
) -> Result<Option<T>, ProtoError> {
    match v.get(key).map(|x| x.kind()) {
        None => Ok(None),
        Some(JsonKind::String(s)) => parse(&s).map(Some),
        Some(_) => Err(ProtoError::IdLength { field: key }),
    }
}

fn required<V: JsonView, T>(
    v: &V,
    key: &'static str,
    parse: fn(&str) -> Result<T, ProtoError>,
) -> Result<T, ProtoError> {
    id(v, key, parse)?.ok_or(ProtoError::Missing { field: key })
}

fn text<V: JsonView>(v: &V, key: &str) -> Option<String> {
    match v.get(key)?.kind() {
        JsonKind::String(s) => Some(s),
        _ => None,
    }
}

fn sdp<V: JsonView>(v: &V) -> Result<Sdp, ProtoError> {
    let kind = match text(v, "type").as_deref() {
        Some("offer") => SdpType::Offer,
        Some("answer") => SdpType::Answer,
        _ => {
            return Err(ProtoError::InvalidJson(
                "SDP type is not offer or answer".to_owned(),
            ))
        }
    };
    let sdp = text(v, "sdp")
        .ok_or_else(|| ProtoError::InvalidJson("SDP without an sdp string".to_owned()))?;
    Ok(Sdp { kind, sdp })
}

/// A count as JavaScript trackers send it (see the module doc).
fn count<V: JsonView>(v: &V, key: &str) -> Option<u32> {
    match v.get(key)?.kind() {
        JsonKind::Number(f) if !f.is_nan() => {
            // `as` saturates (negative -> 0, too big -> u32::MAX) and truncates the fraction.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = f as u32;
            Some(n)
        }
        JsonKind::String(s) => decimal_number(&s).map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        _ => None,
    }
}

/// A decimal numeric string (`" 45 "`, `"2.9"`, `"1e3"`, `"-1"`) read by the same rules as
/// a JSON number: fraction truncated, negative as 0, too big as `u64::MAX`; `None` for
/// anything else. Done on the digits: Rust's float parser would add to the wasm.
pub(super) fn decimal_number(s: &str) -> Option<u64> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (mantissa, exponent) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(rest) => (-1, rest),
                None => (1, e.strip_prefix('+').unwrap_or(e)),
            };
            if digits.is_empty() || !all_digits(digits) {
                return None;
            }
            // Clamped far beyond any u64's 20 digits, which keeps the arithmetic small.
            digits
                .bytes()
                .fold(0i64, |n, b| (n * 10 + i64::from(b - b'0')).min(1 << 32))
                * sign
        }
    };
    if negative {
        return Some(0);
    }
    // The integer part: the first `int.len() + exponent` digits of `int` then `frac`, padded
    // with zeros.
    let whole = i64::try_from(int.len()).unwrap_or(i64::MAX) + exponent;
    let total = int.len() + frac.len();
    let digit = |i: usize| {
        let b = int
            .as_bytes()
            .get(i)
            .or_else(|| frac.as_bytes().get(i - int.len()));
        b.map_or(0, |&b| u64::from(b - b'0'))
    };
    let mut n: u64 = 0;
    for i in 0..usize::try_from(whole.max(0)).unwrap_or(usize::MAX) {
        if i >= total && n == 0 {
            // Only zeros are left to add.
            break;
        }
        match n.checked_mul(10).and_then(|n| n.checked_add(digit(i))) {
            Some(next) => n = next,
            None => return Some(u64::MAX),
        }
    }
    Some(n)
}

/// `s` cut to 64 bytes (back to a char boundary), with `…` when cut: a rejected value quoted
/// in an error.
pub(super) fn short(s: String) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s;
    }
    let mut s = crate::text::truncate_owned(s, MAX);
    s.push('…');
    s
}

/// A non-string `action`, for the error.
fn describe(k: &JsonKind) -> String {
    match k {
        JsonKind::Null => "null".to_owned(),
        JsonKind::Bool(b) => b.to_string(),
        // Whole numbers as themselves; formatting a float would add Rust's float printing to
        // the wasm for this one message.
        JsonKind::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
            #[allow(clippy::cast_possible_truncation)]
            let n = *f as i64;
            n.to_string()
        }
        JsonKind::Number(_) => "a number".to_owned(),
        JsonKind::String(s) => short(s.clone()),
        JsonKind::Array => "an array".to_owned(),
        JsonKind::Object => "an object".to_owned(),
    }
}

#[cfg(feature = "json")]
impl<'a> JsonView for &'a serde_json::Value {
    fn get(&self, key: &str) -> Option<&'a serde_json::Value> {
        self.as_object()?.get(key).filter(|v| !v.is_null())
    }

    fn kind(&self) -> JsonKind {
        use serde_json::Value;
        match self {
            Value::Null => JsonKind::Null,
            Value::Bool(b) => JsonKind::Bool(*b),
            // Integers beyond 2^53 lose precision, which counts saturate at u32 anyway.
            Value::Number(n) => JsonKind::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => JsonKind::String(s.clone()),
            Value::Array(_) => JsonKind::Array,
            Value::Object(_) => JsonKind::Object,
        }
    }

    fn keys(&self) -> Vec<String> {
        self.as_object()
            .map_or_else(Vec::new, |o| o.keys().cloned().collect())
    }
}
