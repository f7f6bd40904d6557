//! The policy of one WebSocket tracker connection, without the socket: what to announce, when
//! to announce again, how long to wait before reconnecting, and which of the tracker's
//! messages to act on.
//!
//! The browser's tracker client (src/tracker_client/) owns the socket, the timers and the
//! WebRTC offers, and asks a [`TrackerSession`] at each turn: [`TrackerSession::announce`]
//! builds the request, [`TrackerSession::announced`] says when the next one is due,
//! [`TrackerSession::lost`] how long to wait before reconnecting, and
//! [`TrackerSession::on_message`] what a message means, and [`TrackerSession::peer_lost`]
//! when to announce again after a connection failed. Delays are in milliseconds from the
//! moment of the call; time and randomness come in as arguments.

use crate::text;
use crate::time::Time;
use crate::tracker_proto::{
    AnnounceRequest, AnnounceResponse, Answer, AnswerForward, DecodeError, Event, InfoHash, Offer,
    OfferForward, PeerId, TrackerMessage, DEFAULT_INTERVAL_SECS,
};

/// Offers made per announce, as WebTorrent does ("generating offers can be slow").
pub const OFFERS_PER_ANNOUNCE: u32 = 5;
/// `numwant` of an announce without offers (`stopped`, `completed`), as bittorrent-tracker.
const NUMWANT_WITHOUT_OFFERS: u32 = 50;
/// Longest failure reason, warning or error text from a tracker that is kept, in bytes.
pub const MAX_TRACKER_TEXT: usize = 200;
/// Longest tracker message read; a longer one is reported and dropped unparsed. (Trackers
/// forward one peer's offer or answer per message; ours takes at most 64 KiB from a peer.)
pub const MAX_TRACKER_MESSAGE: u32 = 128 * 1024;
/// Longest `tracker id` echoed back; a longer one is ignored.
pub const MAX_TRACKER_ID: usize = 64;
/// The tracker's interval is kept within these bounds (seconds), so that a bad value neither
/// floods nor starves it.
const MIN_INTERVAL_SECS: u32 = 10;
const MAX_INTERVAL_SECS: u32 = 3600;
/// The first reconnect waits this long, plus up to as much again of jitter; each further
/// failure doubles it up to the cap.
const BACKOFF_BASE_MS: u32 = 1_000;
const BACKOFF_CAP_MS: u32 = 60_000;
/// First re-announce delay of a hungry client.
const HUNGRY_DELAY_MS: u32 = 5_000;
/// After a connection is lost, the announce that lets the peer back in comes this soon (a
/// short wait, so that several connections failing together share one announce)...
pub const PEER_LOST_DELAY_MS: u32 = 500;
/// ...and such announces are at least this far apart (the shortest interval we accept).
const PEER_LOST_GAP_MS: u64 = MIN_INTERVAL_SECS as u64 * 1000;

/// The counters an announce carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transfer {
    pub uploaded: u64,
    pub downloaded: u64,
    /// Bytes left; `None` before the metadata is known.
    pub left: Option<u64>,
}

/// What to do with a tracker's message.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Not for us: another torrent, our own echo, a banned peer, a scrape reply.
    Ignore,
    /// The tracker refused (the reason, cut to [`MAX_TRACKER_TEXT`]).
    Failure(String),
    /// An announce response, already taken into account (interval, tracker id); its warning
    /// is cut to [`MAX_TRACKER_TEXT`]. Re-arm the announce timer ([`TrackerSession::next_announce_ms`]).
    Response(AnnounceResponse),
    /// A peer's offer: answer it (if the host has room).
    Offer(OfferForward),
    /// An answer to one of our offers.
    Answer(AnswerForward),
}

/// One tracker connection's announce state, for one torrent.
#[derive(Debug, Clone)]
pub struct TrackerSession {
    info_hash: InfoHash,
    peer_id: PeerId,
    interval_secs: u32,
    /// Announces in a row made while the host was hungry.
    hungry_announces: u32,
    /// Consecutive lost connections; reset by an announce response.
    retries: u32,
    tracker_id: Option<String>,
    completed: bool,
    /// When the last announce [`TrackerSession::peer_lost`] asked for is (or was) due.
    peer_lost_at: Option<Time>,
}

impl TrackerSession {
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> TrackerSession {
        TrackerSession {
            info_hash,
            peer_id,
            interval_secs: DEFAULT_INTERVAL_SECS,
            hungry_announces: 0,
            retries: 0,
            tracker_id: None,
            completed: false,
            peer_lost_at: None,
        }
    }

    /// The event of the first announce on a new connection: the tracker forgets us with the
    /// socket, so every (re)connection starts over.
    pub fn opened_event(&self) -> Event {
        if self.completed {
            Event::Completed
        } else {
            Event::Started
        }
    }

    /// We have every piece: true the first time, when `completed` is to be announced.
    pub fn complete(&mut self) -> bool {
        !std::mem::replace(&mut self.completed, true)
    }

    /// An announce with `offers` and the host's counters. `numwant` is the number of offers,
    /// or 50 without any, as bittorrent-tracker sends it.
    pub fn announce(
        &self,
        event: Option<Event>,
        offers: Vec<Offer>,
        transfer: Transfer,
    ) -> AnnounceRequest {
        let mut req = AnnounceRequest::new(self.info_hash, self.peer_id);
        req.event = event;
        req.trackerid = self.tracker_id.clone();
        req.uploaded = Some(transfer.uploaded);
        req.downloaded = Some(transfer.downloaded);
        req.left = transfer.left;
        req.numwant = Some(if offers.is_empty() {
            NUMWANT_WITHOUT_OFFERS
        } else {
            u32::try_from(offers.len()).unwrap_or(OFFERS_PER_ANNOUNCE)
        });
        req.offers = offers;
        req
    }

    /// The announce that carries our answer to a peer's offer.
    pub fn answer(&self, answer: Answer) -> AnnounceRequest {
        let mut req = AnnounceRequest::new(self.info_hash, self.peer_id);
        req.answer = Some(answer);
        req.trackerid = self.tracker_id.clone();
        req
    }

    /// An announce made with `event` was sent; `hungry`: the host is incomplete and has no
    /// connection. Returns when to announce next (ms), `None` after `stopped`.
    pub fn announced(&mut self, event: Option<Event>, hungry: bool) -> Option<u32> {
        if hungry {
            self.hungry_announces = self.hungry_announces.saturating_add(1);
        }
        (event != Some(Event::Stopped)).then(|| self.next_announce_ms(hungry))
    }

    /// When to announce next (ms): after the interval, but a client that is incomplete and has
    /// no connection at all (its offers went unanswered, or every connection failed) tries
    /// again after 5 s, 10 s, 20 s ... up to the interval, instead of idling for two minutes.
    pub fn next_announce_ms(&mut self, hungry: bool) -> u32 {
        if !hungry {
            self.hungry_announces = 0;
        }
        let interval = self.interval_secs.saturating_mul(1000);
        match self.hungry_announces {
            0 => interval,
            n => doubling_ms(HUNGRY_DELAY_MS, n - 1, interval),
        }
    }

    /// A peer connection failed at `now` (its transport died; not a close by either side):
    /// returns in how many ms to announce with offers, or `None` if an announce asked for
    /// earlier is still due and covers this loss too. The lost peer may not announce again for
    /// minutes (libtorrent 2.1: 60 s at least) and cannot reach us otherwise, so waiting for
    /// the interval stalls its download; a seed is never hungry, so that rule does not help.
    /// Such announces are [`PEER_LOST_GAP_MS`] apart at least, however many peers fail.
    pub fn peer_lost(&mut self, now: Time) -> Option<u32> {
        let soon = now + std::time::Duration::from_millis(u64::from(PEER_LOST_DELAY_MS));
        let at = match self.peer_lost_at {
            Some(due) if due > now => return None,
            Some(last) => soon.max(last + std::time::Duration::from_millis(PEER_LOST_GAP_MS)),
            None => soon,
        };
        self.peer_lost_at = Some(at);
        let ms = at.saturating_since(now).as_millis();
        Some(u32::try_from(ms).unwrap_or(u32::MAX))
    }

    /// The connection failed or closed: how long to wait before reconnecting (ms). 1 s, 2 s,
    /// 4 s ... capped at 60 s after consecutive failures, plus up to 1 s of jitter from
    /// `random` so that many tabs do not reconnect in lockstep.
    pub fn lost(&mut self, random: u16) -> u32 {
        let jitter = u32::from(random) % BACKOFF_BASE_MS;
        let delay =
            doubling_ms(BACKOFF_BASE_MS, self.retries, BACKOFF_CAP_MS).saturating_add(jitter);
        self.retries = self.retries.saturating_add(1);
        delay
    }

    /// What a decoded message means for us. Only messages for our torrent count, not our own
    /// (trackers may echo, and pooled sockets carry other torrents) and not a banned peer's.
    /// An announce response resets the reconnect backoff and sets the interval (clamped to
    /// 10 s .. 1 h) and the tracker id (one over [`MAX_TRACKER_ID`] bytes is ignored).
    pub fn on_message(&mut self, msg: TrackerMessage, banned: impl Fn(&PeerId) -> bool) -> Step {
        let ours = self.info_hash;
        let welcome = |hash: &InfoHash, from: &PeerId| {
            *hash == ours && *from != self.peer_id && !banned(from)
        };
        match msg {
            TrackerMessage::AnnounceResponse(mut r) if r.info_hash == ours => {
                self.retries = 0;
                if let Some(secs) = r.interval {
                    self.interval_secs = secs.clamp(MIN_INTERVAL_SECS, MAX_INTERVAL_SECS);
                }
                if let Some(id) = r
                    .tracker_id
                    .as_ref()
                    .filter(|id| id.len() <= MAX_TRACKER_ID)
                {
                    self.tracker_id = Some(id.clone());
                }
                r.warning_message = r.warning_message.map(tracker_text);
                Step::Response(r)
            }
            TrackerMessage::Offer(f) if welcome(&f.info_hash, &f.peer_id) => Step::Offer(f),
            TrackerMessage::Answer(f) if welcome(&f.info_hash, &f.peer_id) => Step::Answer(f),
            TrackerMessage::Failure(f) if f.info_hash.is_none_or(|h| h == ours) => {
                Step::Failure(tracker_text(f.reason))
            }
            _ => Step::Ignore,
        }
    }
}

/// A message of `len` bytes (or UTF-16 units) is read only up to [`MAX_TRACKER_MESSAGE`]; a
/// longer one is an error before anything is copied or parsed.
pub fn check_size(len: u32) -> Result<(), DecodeError> {
    if len > MAX_TRACKER_MESSAGE {
        return Err(DecodeError::invalid_json(format!(
            "a message of {len} bytes, over {MAX_TRACKER_MESSAGE}"
        )));
    }
    Ok(())
}

/// A tracker's text, cut to [`MAX_TRACKER_TEXT`] before it is shown.
pub fn tracker_text(s: String) -> String {
    text::truncate_owned(s, MAX_TRACKER_TEXT)
}

/// `base_ms` doubled `steps` times, at most `cap_ms`.
fn doubling_ms(base_ms: u32, steps: u32, cap_ms: u32) -> u32 {
    base_ms.saturating_mul(1u32 << steps.min(16)).min(cap_ms)
}

#[cfg(test)]
mod tests;
