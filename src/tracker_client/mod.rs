//! WebSocket tracker client speaking the WebTorrent tracker protocol (reference doc section 1).
//!
//! One [`TrackerClient`] per (torrent, tracker URL). It keeps one WebSocket open, announces
//! `started` with fresh non-trickle WebRTC offers, re-announces at the tracker's `interval`,
//! answers offers that the tracker forwards, completes its own offers with the answers it
//! receives, reconnects with backoff, and announces `stopped` when dropped.
//!
//! Peer connections are handed to a [`Host`] (the driver) as soon as signalling is done; the
//! host owns them from then on. Each connection is created with the host's event sink, so its
//! data-channel events reach the host directly.
//!
//! The decisions (what to announce and when, backoff, which messages to act on) are the core's
//! [`TrackerSession`], unit-tested there. Here: the socket's lifecycle ([`socket`]) and our
//! offers awaiting answers ([`offers`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::{Rc, Weak};

use tabswarm_core::tracker_proto::{InfoHash, OfferId, PeerId};
use tabswarm_core::tracker_session::TrackerSession;
pub use tabswarm_core::tracker_session::Transfer;

use crate::js::{self, Timer};
use crate::peer_slots::Slot;
use crate::rtc::{EventSink, RtcConfig, RtcPeer};

mod join;
mod offers;
mod socket;

/// What the tracker client needs from its owner (the driver).
pub trait Host {
    /// A sink and an id for a new peer connection's events; called before the connection is
    /// created so that no event is lost.
    fn connection_sink(&self) -> (u64, EventSink);
    /// Signalling finished: the host owns `peer` from now on (the channel opens later, or the
    /// host gives up on it). `remote` is the other side's peer id from the tracker;
    /// `we_offered` tells whether the offer was ours (else we answered theirs).
    /// `slot` is the place the connection held while signalling: the host records the
    /// connection before dropping it.
    fn connected(&self, id: u64, peer: RtcPeer, remote: PeerId, we_offered: bool, slot: Slot);
    /// A slot for answering an offer from `remote`; `None` to ignore the offer (banned,
    /// already connected or being answered, or full).
    fn accept_offer_from(&self, remote: &PeerId) -> Option<Slot>;
    /// Slots for the offers of the next announce, at most `want` (fewer when nearly full).
    fn offer_slots(&self, want: usize) -> Vec<Slot>;
    /// Banned for the torrent's life: its answers to our offers are ignored.
    fn is_banned(&self, remote: &PeerId) -> bool;
    /// Incomplete and without a single connection: the next announce comes sooner (see
    /// [`TrackerSession::next_announce_ms`]).
    fn hungry(&self) -> bool;
    /// Numbers for the announce: bytes uploaded, downloaded, and left (`None` before metadata).
    fn transfer(&self) -> Transfer;
    /// Something the user may want to know (unreachable tracker, a tracker's failure reason).
    fn notice(&self, notice: Notice);
}

/// A tracker problem worth reporting. None of them stops the client: it keeps retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The URL is not a valid WebSocket URL; this tracker is not used.
    BadUrl { url: String, reason: String },
    /// The connection failed or closed; the client reconnects after `retry_ms`.
    Unreachable { url: String, retry_ms: u32 },
    /// The tracker replied with `failure reason`.
    Failure { url: String, reason: String },
    /// The tracker replied with `warning message`.
    Warning { url: String, message: String },
    /// A message could not be decoded (ignored).
    Malformed { url: String, reason: String },
    /// An announce response: seeders and leechers known to the tracker.
    Swarm {
        url: String,
        complete: Option<u32>,
        incomplete: Option<u32>,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::BadUrl { url, reason } => write!(f, "tracker {url}: bad URL: {reason}"),
            // Whole milliseconds: formatting a float would link Rust's float printing into
            // the wasm for this one message.
            Notice::Unreachable { url, retry_ms } => {
                write!(f, "tracker {url} unreachable; retrying in {retry_ms} ms")
            }
            Notice::Failure { url, reason } => write!(f, "tracker {url} refused: {reason}"),
            Notice::Warning { url, message } => write!(f, "tracker {url} warns: {message}"),
            Notice::Malformed { url, reason } => {
                write!(f, "tracker {url} sent a malformed message: {reason}")
            }
            Notice::Swarm {
                url,
                complete,
                incomplete,
            } => write!(
                f,
                "tracker {url}: {} seeders, {} leechers",
                complete.unwrap_or(0),
                incomplete.unwrap_or(0)
            ),
        }
    }
}

/// The identity a client announces with.
#[derive(Clone, Debug)]
pub struct Identity {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub rtc: RtcConfig,
}

/// One tracker connection for one torrent. Dropping it announces `stopped` and closes it.
pub struct TrackerClient {
    state: Rc<RefCell<State>>,
}

impl TrackerClient {
    /// Connects to `url` and announces `started`. Problems go to `host` as [`Notice`]s.
    pub fn new(url: &str, identity: Identity, host: Weak<dyn Host>) -> TrackerClient {
        let state = Rc::new(RefCell::new(State {
            url: url.to_string(),
            session: TrackerSession::new(identity.info_hash, identity.peer_id),
            identity,
            host,
            socket: None,
            reconnect: None,
            announce_timer: None,
            peer_lost_timer: None,
            expiry: None,
            pending: HashMap::new(),
            stopped: false,
        }));
        socket::connect(&state);
        TrackerClient { state }
    }

    /// True while the WebSocket is open.
    pub fn is_connected(&self) -> bool {
        self.state
            .borrow()
            .socket
            .as_ref()
            .is_some_and(socket::Socket::is_open)
    }

    /// A peer connection failed: announce with offers soon (core's `TrackerSession::peer_lost`
    /// says when), so that the peer, which may not announce for minutes, can come back.
    pub fn peer_lost(&self) {
        let Some(ms) = self.state.borrow_mut().session.peer_lost(js::now()) else {
            return;
        };
        let weak = Rc::downgrade(&self.state);
        let timer = Timer::once(ms, move || {
            if let Some(state) = weak.upgrade() {
                if !state.borrow().stopped {
                    offers::announce_with_offers(&state, None);
                }
            }
        });
        self.state.borrow_mut().peer_lost_timer = Some(timer);
    }

    /// Announces `completed` (once): we have every piece.
    pub fn completed(&self) {
        if self.state.borrow_mut().session.complete() {
            socket::send_announce(
                &self.state,
                Some(tabswarm_core::tracker_proto::Event::Completed),
                Vec::new(),
            );
        }
    }
}

impl Drop for TrackerClient {
    fn drop(&mut self) {
        socket::stop(&self.state);
    }
}

/// One client's state, shared by the socket's listeners, its timers and the offer tasks.
struct State {
    url: String,
    identity: Identity,
    host: Weak<dyn Host>,
    /// What to announce and when.
    session: TrackerSession,
    socket: Option<socket::Socket>,
    reconnect: Option<Timer>,
    announce_timer: Option<Timer>,
    /// The announce [`TrackerClient::peer_lost`] asked for.
    peer_lost_timer: Option<Timer>,
    /// Prunes unanswered offers; armed while any are pending.
    expiry: Option<Timer>,
    /// Our offers awaiting an answer, by offer id.
    pending: HashMap<OfferId, offers::PendingOffer>,
    stopped: bool,
}

/// Only absolute `ws://` and `wss://` URLs (browsers would resolve anything else against the
/// page's URL).
fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or_else(|| "not a ws:// or wss:// URL".to_string())?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err("no host, or whitespace in the URL".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_websocket_urls_are_used() {
        assert_eq!(check_url("ws://127.0.0.1:8080/announce"), Ok(()));
        assert_eq!(check_url("wss://tracker.example"), Ok(()));
        assert!(check_url("not a url").is_err());
        assert!(check_url("http://tracker.example/announce").is_err());
        assert!(check_url("udp://tracker.example:80").is_err());
        assert!(check_url("ws://").is_err());
        assert!(check_url("ws:///path").is_err());
        assert!(check_url("ws://a b").is_err());
    }
}
