//! WebSocket tracker client speaking the WebTorrent tracker protocol (reference doc section 1).
//!
//! One [`TrackerClient`] per (torrent, tracker URL). It keeps one WebSocket open, announces
//! `started` with [`OFFERS_PER_ANNOUNCE`] fresh non-trickle WebRTC offers, re-announces at the
//! tracker's `interval`, answers offers that the tracker forwards, completes its own offers with
//! the answers it receives, reconnects with exponential backoff, and announces `stopped` when
//! stopped or dropped.
//!
//! Peer connections are handed to a [`Host`] (the driver) as soon as signalling is done; the
//! host owns them from then on. Each connection is created with the host's event sink, so its
//! data-channel events reach the host directly.
//!
//! The decisions (which messages to act on, backoff, clamping the interval) are pure functions
//! at the bottom of the file, unit-tested natively.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::Poll;

use tabswarm_core::tracker_proto::{
    AnnounceRequest, Answer, DecodeError, Event, InfoHash, Offer, OfferId, PeerId, Sdp, SdpType,
    TrackerMessage,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

use crate::js::{self, Listener, Timer};
use crate::peer_slots::Slot;
use crate::rtc::{EventSink, RtcConfig, RtcPeer};
use crate::tracker_json;

/// Offers made per announce, as WebTorrent does ("generating offers can be slow").
pub const OFFERS_PER_ANNOUNCE: u32 = 5;
/// Longest failure reason, warning or error text from a tracker that is kept, in bytes.
pub const MAX_TRACKER_TEXT: usize = 200;
/// Longest tracker message read; a longer one is reported and dropped unparsed. (Trackers
/// forward one peer's offer or answer per message; ours takes at most 64 KiB from a peer.)
const MAX_TRACKER_MESSAGE: u32 = 128 * 1024;
/// Longest `tracker id` echoed back; a longer one is ignored.
const MAX_TRACKER_ID: usize = 64;
/// Unanswered offers are dropped after this long (WebTorrent: 50 s).
pub const OFFER_TTL_MS: u32 = 50_000;
/// The announce interval until the tracker sends one (WebTorrent trackers send 120 s).
const DEFAULT_INTERVAL_SECS: u32 = 120;
/// The first reconnect waits this long; each further failure doubles it up to the cap.
const BACKOFF_BASE_MS: u32 = 1_000;
const BACKOFF_CAP_MS: u32 = 60_000;

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
    /// [`announce_delay_ms`]).
    fn hungry(&self) -> bool;
    /// Numbers for the announce: bytes uploaded, downloaded, and left (`None` before metadata).
    fn transfer(&self) -> Transfer;
    /// Something the user may want to know (unreachable tracker, a tracker's failure reason).
    fn notice(&self, notice: Notice);
}

/// The counters an announce carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transfer {
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: Option<u64>,
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
            identity,
            host,
            socket: None,
            retries: 0,
            reconnect: None,
            announce_timer: None,
            expiry: None,
            interval_secs: DEFAULT_INTERVAL_SECS,
            hungry_announces: 0,
            pending: HashMap::new(),
            tracker_id: None,
            completed: false,
            stopped: false,
        }));
        connect(&state);
        TrackerClient { state }
    }

    /// The tracker's URL.
    pub fn url(&self) -> String {
        self.state.borrow().url.clone()
    }

    /// True while the WebSocket is open.
    pub fn is_connected(&self) -> bool {
        self.state
            .borrow()
            .socket
            .as_ref()
            .is_some_and(|s| s.ws.ready_state() == web_sys::WebSocket::OPEN)
    }

    /// Announces `completed` (once): we have every piece.
    pub fn completed(&self) {
        let already = std::mem::replace(&mut self.state.borrow_mut().completed, true);
        if !already {
            send_announce(&self.state, Some(Event::Completed), Vec::new());
        }
    }

    /// Announces now (an update with fresh offers), e.g. when the torrent wants more peers.
    pub fn announce_now(&self) {
        announce_with_offers(&self.state, None);
    }

    /// Announces `stopped` and closes the connection; nothing happens after this.
    pub fn stop(&self) {
        stop(&self.state);
    }
}

impl Drop for TrackerClient {
    fn drop(&mut self) {
        stop(&self.state);
    }
}

struct State {
    url: String,
    identity: Identity,
    host: Weak<dyn Host>,
    socket: Option<Socket>,
    /// Consecutive failed connections; reset by the first valid message.
    retries: u32,
    reconnect: Option<Timer>,
    announce_timer: Option<Timer>,
    /// Prunes unanswered offers; armed while any are pending.
    expiry: Option<Timer>,
    interval_secs: u32,
    /// Announces in a row made while the host was hungry.
    hungry_announces: u32,
    /// Our offers awaiting an answer, by offer id.
    pending: HashMap<OfferId, PendingOffer>,
    tracker_id: Option<String>,
    completed: bool,
    stopped: bool,
}

struct Socket {
    ws: web_sys::WebSocket,
    _listeners: [Listener; 4],
}

struct PendingOffer {
    conn: u64,
    peer: RtcPeer,
    made_ms: f64,
    slot: Slot,
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self.ws.close();
    }
}

fn connect(state: &Rc<RefCell<State>>) {
    let url = state.borrow().url.clone();
    let ws = match check_url(&url)
        .and_then(|()| web_sys::WebSocket::new(&url).map_err(|e| js::error_text(&e)))
    {
        Ok(ws) => ws,
        Err(e) => {
            let host = state.borrow().host.upgrade();
            if let Some(host) = host {
                host.notice(Notice::BadUrl { url, reason: e });
            }
            return;
        }
    };
    ws.set_binary_type(web_sys::BinaryType::Arraybuffer);
    let weak = Rc::downgrade(state);
    let on = |f: fn(&Rc<RefCell<State>>, web_sys::Event)| {
        let weak = weak.clone();
        move |ev: web_sys::Event| {
            if let Some(state) = weak.upgrade() {
                f(&state, ev);
            }
        }
    };
    let listeners = [
        Listener::new(&ws, "open", on(|s, _| on_open(s))),
        Listener::new(&ws, "message", on(on_message)),
        Listener::new(&ws, "close", on(|s, _| on_lost(s))),
        Listener::new(&ws, "error", on(|s, _| on_lost(s))),
    ];
    state.borrow_mut().socket = Some(Socket {
        ws,
        _listeners: listeners,
    });
}

fn on_open(state: &Rc<RefCell<State>>) {
    // The tracker forgets us with the socket, so every (re)connection starts over.
    let event = if state.borrow().completed {
        Event::Completed
    } else {
        Event::Started
    };
    announce_with_offers(state, Some(event));
}

fn on_lost(state: &Rc<RefCell<State>>) {
    let (host, url, delay) = {
        let mut s = state.borrow_mut();
        if s.stopped || s.socket.is_none() {
            return;
        }
        s.socket = None;
        s.announce_timer = None;
        // Answers to our offers can only come through this socket.
        s.pending.clear();
        s.expiry = None;
        let jitter = u32::from(random_u16()) % BACKOFF_BASE_MS;
        let delay = backoff_ms(s.retries, jitter);
        s.retries = s.retries.saturating_add(1);
        let weak = Rc::downgrade(state);
        s.reconnect = Some(Timer::once(delay, move || {
            if let Some(state) = weak.upgrade() {
                state.borrow_mut().reconnect = None;
                connect(&state);
            }
        }));
        (s.host.upgrade(), s.url.clone(), delay)
    };
    if let Some(host) = host {
        host.notice(Notice::Unreachable {
            url,
            retry_ms: delay,
        });
    }
}

fn on_message(state: &Rc<RefCell<State>>, ev: web_sys::Event) {
    let Ok(ev) = ev.dyn_into::<web_sys::MessageEvent>() else {
        return;
    };
    let data = ev.data();
    // Measured before anything is copied out of JS (a string's length in UTF-16 units).
    let len = if let Some(text) = data.dyn_ref::<js_sys::JsString>() {
        text.length()
    } else if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
        buf.byte_length()
    } else {
        return;
    };
    let text = if len > MAX_TRACKER_MESSAGE {
        Err(DecodeError::invalid_json(format!(
            "a message of {len} bytes, over {MAX_TRACKER_MESSAGE}"
        )))
    } else if let Some(text) = data.as_string() {
        Ok(text)
    } else if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
        String::from_utf8(js_sys::Uint8Array::new(buf).to_vec())
            .map_err(|_| DecodeError::invalid_json("invalid UTF-8".into()))
    } else {
        return;
    };
    let (ours, me, url, host) = {
        let s = state.borrow();
        (
            s.identity.info_hash,
            s.identity.peer_id,
            s.url.clone(),
            s.host.upgrade(),
        )
    };
    let Some(host) = host else { return };
    let msg = match text.and_then(|t| tracker_json::tracker_message_from_json(&t)) {
        Ok(m) => m,
        Err(e) => {
            host.notice(Notice::Malformed {
                url,
                reason: tracker_text(e.to_string()),
            });
            return;
        }
    };
    match classify(msg, &ours, &me, |id| host.is_banned(id)) {
        Step::Ignore => {}
        Step::Failure(reason) => host.notice(Notice::Failure { url, reason }),
        Step::Response(r) => {
            {
                let mut s = state.borrow_mut();
                s.retries = 0;
                if let Some(secs) = r.interval {
                    s.interval_secs = clamp_interval(secs);
                }
                if let Some(id) = r
                    .tracker_id
                    .as_ref()
                    .filter(|id| id.len() <= MAX_TRACKER_ID)
                {
                    s.tracker_id = Some(id.clone());
                }
            }
            arm_announce_timer(state);
            if let Some(message) = r.warning_message {
                host.notice(Notice::Warning {
                    url: url.clone(),
                    message: tracker_text(message),
                });
            }
            host.notice(Notice::Swarm {
                url,
                complete: r.complete,
                incomplete: r.incomplete,
            });
        }
        Step::Answer(f) => {
            let pending = state.borrow_mut().pending.remove(&f.offer_id);
            if let Some(p) = pending {
                spawn_local(complete_offer(Rc::downgrade(&host), p, f.peer_id, f.answer));
            }
        }
        Step::Offer(f) => {
            if let Some(slot) = host.accept_offer_from(&f.peer_id) {
                let rtc = state.borrow().identity.rtc.clone();
                spawn_local(answer_offer(
                    Rc::downgrade(state),
                    Rc::downgrade(&host),
                    rtc,
                    f,
                    slot,
                ));
            }
        }
    }
}

async fn complete_offer(host: Weak<dyn Host>, p: PendingOffer, remote: PeerId, answer: Sdp) {
    if answer.kind != SdpType::Answer {
        return;
    }
    if p.peer.accept_answer(&answer.sdp).await.is_ok() {
        if let Some(host) = host.upgrade() {
            host.connected(p.conn, p.peer, remote, true, p.slot);
        }
    }
}

async fn answer_offer(
    state: Weak<RefCell<State>>,
    host: Weak<dyn Host>,
    rtc: RtcConfig,
    offer: tabswarm_core::tracker_proto::OfferForward,
    slot: Slot,
) {
    let (remote, offer_id, offer_sdp) = (offer.peer_id, offer.offer_id, offer.offer.sdp);
    let Some((conn, sink)) = host.upgrade().map(|h| h.connection_sink()) else {
        return;
    };
    let Ok((peer, sdp)) = RtcPeer::answer(&rtc, &offer_sdp, sink).await else {
        return;
    };
    let Some(state) = state.upgrade() else { return };
    let mut req = {
        let s = state.borrow();
        if s.stopped {
            return;
        }
        AnnounceRequest::new(s.identity.info_hash, s.identity.peer_id)
    };
    req.answer = Some(Answer {
        to_peer_id: remote,
        offer_id,
        answer: Sdp {
            kind: SdpType::Answer,
            sdp,
        },
    });
    req.trackerid = state.borrow().tracker_id.clone();
    if send(&state, &req) {
        if let Some(host) = host.upgrade() {
            host.connected(conn, peer, remote, false, slot);
        }
    }
}

/// Makes the offers the host wants, then announces with them.
fn announce_with_offers(state: &Rc<RefCell<State>>, event: Option<Event>) {
    let (host, rtc) = {
        let s = state.borrow();
        (s.host.upgrade(), s.identity.rtc.clone())
    };
    let Some(host) = host else { return };
    let slots = host.offer_slots(OFFERS_PER_ANNOUNCE as usize);
    let weak = Rc::downgrade(state);
    let weak_host = Rc::downgrade(&host);
    drop(host);
    spawn_local(async move {
        let mut making = Vec::new();
        for slot in slots {
            let Some((conn, sink)) = weak_host.upgrade().map(|h| h.connection_sink()) else {
                return;
            };
            let rtc = rtc.clone();
            making.push(async move { (conn, slot, RtcPeer::offer(&rtc, sink).await) });
        }
        // An offer that failed gives its slot back here.
        let made: Vec<(u64, Slot, RtcPeer, String)> = join_all(making)
            .await
            .into_iter()
            .filter_map(|(conn, slot, r)| r.ok().map(|(peer, sdp)| (conn, slot, peer, sdp)))
            .collect();
        let Some(state) = weak.upgrade() else { return };
        let now = js::now_ms();
        let mut offers = Vec::new();
        for (conn, slot, peer, sdp) in made {
            let mut id = [0u8; 20];
            js::random_bytes(&mut id);
            let offer_id = OfferId(id);
            offers.push(Offer {
                offer: Sdp {
                    kind: SdpType::Offer,
                    sdp,
                },
                offer_id,
            });
            state.borrow_mut().pending.insert(
                offer_id,
                PendingOffer {
                    conn,
                    peer,
                    made_ms: now,
                    slot,
                },
            );
        }
        send_announce(&state, event, offers);
        arm_expiry(&state);
    });
}

/// Sends an announce with the host's counters; returns false if the socket is not open.
fn send_announce(state: &Rc<RefCell<State>>, event: Option<Event>, offers: Vec<Offer>) -> bool {
    let (req, host) = {
        let s = state.borrow();
        let mut req = AnnounceRequest::new(s.identity.info_hash, s.identity.peer_id);
        req.event = event;
        req.trackerid = s.tracker_id.clone();
        (req, s.host.upgrade())
    };
    let mut req = req;
    let t = host.as_ref().map(|h| h.transfer()).unwrap_or_default();
    req.uploaded = Some(t.uploaded);
    req.downloaded = Some(t.downloaded);
    req.left = t.left;
    // bittorrent-tracker sends numwant = number of offers, and 50 on stopped/completed.
    req.numwant = Some(if offers.is_empty() {
        50
    } else {
        u32::try_from(offers.len()).unwrap_or(OFFERS_PER_ANNOUNCE)
    });
    req.offers = offers;
    let sent = send(state, &req);
    if sent && host.as_ref().is_some_and(|h| h.hungry()) {
        let mut s = state.borrow_mut();
        s.hungry_announces = s.hungry_announces.saturating_add(1);
    }
    if sent && event != Some(Event::Stopped) {
        arm_announce_timer(state);
    }
    sent
}

fn send(state: &Rc<RefCell<State>>, req: &AnnounceRequest) -> bool {
    let s = state.borrow();
    match s.socket.as_ref() {
        Some(sock) if sock.ws.ready_state() == web_sys::WebSocket::OPEN => sock
            .ws
            .send_with_str(&tracker_json::announce_to_json(req))
            .is_ok(),
        _ => false,
    }
}

fn arm_announce_timer(state: &Rc<RefCell<State>>) {
    let weak = Rc::downgrade(state);
    let ms = {
        let mut s = state.borrow_mut();
        if !s.host.upgrade().is_some_and(|h| h.hungry()) {
            s.hungry_announces = 0;
        }
        announce_delay_ms(s.interval_secs, s.hungry_announces)
    };
    let timer = Timer::once(ms, move || {
        if let Some(state) = weak.upgrade() {
            announce_with_offers(&state, None);
        }
    });
    state.borrow_mut().announce_timer = Some(timer);
}

fn arm_expiry(state: &Rc<RefCell<State>>) {
    if state.borrow().pending.is_empty() {
        return;
    }
    let weak = Rc::downgrade(state);
    let timer = Timer::once(OFFER_TTL_MS, move || {
        let Some(state) = weak.upgrade() else { return };
        let cutoff = js::now_ms() - f64::from(OFFER_TTL_MS) + 1.0;
        let expired: Vec<PendingOffer> = {
            let mut s = state.borrow_mut();
            s.expiry = None;
            let ids: Vec<OfferId> = s
                .pending
                .iter()
                .filter(|(_, p)| p.made_ms <= cutoff)
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| s.pending.remove(id)).collect()
        };
        drop(expired);
        arm_expiry(&state);
    });
    state.borrow_mut().expiry = Some(timer);
}

fn stop(state: &Rc<RefCell<State>>) {
    if std::mem::replace(&mut state.borrow_mut().stopped, true) {
        return;
    }
    send_announce(state, Some(Event::Stopped), Vec::new());
    let (socket, pending) = {
        let mut s = state.borrow_mut();
        s.reconnect = None;
        s.announce_timer = None;
        s.expiry = None;
        (s.socket.take(), std::mem::take(&mut s.pending))
    };
    // Closing after the send: the close frame follows the queued `stopped` message.
    drop(socket);
    drop(pending);
}

/// Runs `futures` concurrently and returns their outputs in order. For the few offers of an
/// announce; `futures::future::join_all` would also link `FuturesOrdered` (for long lists),
/// several KB of the wasm download.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut running: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = running.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in running.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(outputs.drain(..).flatten().collect())
        }
    })
    .await
}

fn random_u16() -> u16 {
    let mut b = [0u8; 2];
    js::random_bytes(&mut b);
    u16::from_le_bytes(b)
}

/// What to do with a decoded tracker message.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Ignore,
    Failure(String),
    Response(tabswarm_core::tracker_proto::AnnounceResponse),
    Offer(tabswarm_core::tracker_proto::OfferForward),
    Answer(tabswarm_core::tracker_proto::AnswerForward),
}

/// Keeps only messages for our torrent, not from ourselves (trackers may echo, and pooled
/// sockets carry other torrents) and not from banned peers.
fn classify(
    msg: TrackerMessage,
    ours: &InfoHash,
    me: &PeerId,
    banned: impl Fn(&PeerId) -> bool,
) -> Step {
    let welcome = |hash: &InfoHash, from: &PeerId| hash == ours && from != me && !banned(from);
    match msg {
        TrackerMessage::AnnounceResponse(r) if r.info_hash == *ours => Step::Response(r),
        TrackerMessage::Offer(f) if welcome(&f.info_hash, &f.peer_id) => Step::Offer(f),
        TrackerMessage::Answer(f) if welcome(&f.info_hash, &f.peer_id) => Step::Answer(f),
        TrackerMessage::Failure(f) if f.info_hash.is_none_or(|h| h == *ours) => {
            Step::Failure(tracker_text(f.reason))
        }
        _ => Step::Ignore,
    }
}

/// A tracker's text, cut to [`MAX_TRACKER_TEXT`] before it is shown.
fn tracker_text(s: String) -> String {
    tabswarm_core::text::truncate_owned(s, MAX_TRACKER_TEXT)
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

/// Reconnect delay after `retries` consecutive failures: 1 s, 2 s, 4 s ... capped at 60 s,
/// plus `jitter_ms` so that many tabs do not reconnect in lockstep.
fn backoff_ms(retries: u32, jitter_ms: u32) -> u32 {
    doubling_ms(BACKOFF_BASE_MS, retries, BACKOFF_CAP_MS).saturating_add(jitter_ms)
}

/// `base_ms` doubled `steps` times, at most `cap_ms`.
fn doubling_ms(base_ms: u32, steps: u32, cap_ms: u32) -> u32 {
    base_ms.saturating_mul(1u32 << steps.min(16)).min(cap_ms)
}

/// First re-announce delay of a hungry client.
const HUNGRY_DELAY_MS: u32 = 5_000;

/// When to announce next: after the interval, but a client that is incomplete and has no
/// connection at all (its offers went unanswered, or every connection failed) tries again
/// after 5 s, 10 s, 20 s ... up to the interval, instead of idling for two minutes.
fn announce_delay_ms(interval_secs: u32, hungry_announces: u32) -> u32 {
    let interval = interval_secs.saturating_mul(1000);
    match hungry_announces {
        0 => interval,
        n => doubling_ms(HUNGRY_DELAY_MS, n - 1, interval),
    }
}

/// A tracker's interval, kept within 10 s .. 1 h so a bad value neither floods nor starves it.
fn clamp_interval(secs: u32) -> u32 {
    secs.clamp(10, 3600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabswarm_core::tracker_proto::{AnnounceResponse, AnswerForward, Failure, OfferForward};

    const OURS: InfoHash = InfoHash([1; 20]);
    const ME: PeerId = PeerId([2; 20]);
    const THEM: PeerId = PeerId([3; 20]);

    fn offer(info_hash: InfoHash, peer_id: PeerId) -> TrackerMessage {
        TrackerMessage::Offer(OfferForward {
            info_hash,
            peer_id,
            offer_id: OfferId([9; 20]),
            offer: Sdp {
                kind: SdpType::Offer,
                sdp: "v=0".into(),
            },
        })
    }

    fn nobody(_: &PeerId) -> bool {
        false
    }

    #[test]
    fn offers_and_answers_from_banned_peers_are_ignored() {
        let banned = |id: &PeerId| *id == THEM;
        assert_eq!(
            classify(offer(OURS, THEM), &OURS, &ME, banned),
            Step::Ignore
        );
        let other = PeerId([4; 20]);
        assert!(matches!(
            classify(offer(OURS, other), &OURS, &ME, banned),
            Step::Offer(_)
        ));
        let answer = TrackerMessage::Answer(AnswerForward {
            info_hash: OURS,
            peer_id: THEM,
            offer_id: OfferId([9; 20]),
            answer: Sdp {
                kind: SdpType::Answer,
                sdp: "v=0".into(),
            },
        });
        assert_eq!(classify(answer, &OURS, &ME, banned), Step::Ignore);
    }

    #[test]
    fn tracker_failure_reasons_are_cut() {
        let failure = TrackerMessage::Failure(Failure {
            action: None,
            info_hash: None,
            reason: "x".repeat(1 << 20),
        });
        assert_eq!(
            classify(failure, &OURS, &ME, nobody),
            Step::Failure("x".repeat(MAX_TRACKER_TEXT))
        );
    }

    #[test]
    fn only_our_torrent_and_not_our_own_messages_are_acted_on() {
        assert!(matches!(
            classify(offer(OURS, THEM), &OURS, &ME, nobody),
            Step::Offer(_)
        ));
        assert_eq!(classify(offer(OURS, ME), &OURS, &ME, nobody), Step::Ignore);
        assert_eq!(
            classify(offer(InfoHash([7; 20]), THEM), &OURS, &ME, nobody),
            Step::Ignore
        );
        let answer = |info_hash, peer_id| {
            TrackerMessage::Answer(AnswerForward {
                info_hash,
                peer_id,
                offer_id: OfferId([9; 20]),
                answer: Sdp {
                    kind: SdpType::Answer,
                    sdp: "v=0".into(),
                },
            })
        };
        assert!(matches!(
            classify(answer(OURS, THEM), &OURS, &ME, nobody),
            Step::Answer(_)
        ));
        assert_eq!(classify(answer(OURS, ME), &OURS, &ME, nobody), Step::Ignore);
        let resp = |info_hash| {
            TrackerMessage::AnnounceResponse(AnnounceResponse {
                info_hash,
                complete: Some(1),
                incomplete: Some(2),
                interval: Some(120),
                tracker_id: None,
                warning_message: None,
            })
        };
        assert!(matches!(
            classify(resp(OURS), &OURS, &ME, nobody),
            Step::Response(_)
        ));
        assert_eq!(
            classify(resp(InfoHash([7; 20])), &OURS, &ME, nobody),
            Step::Ignore
        );
    }

    #[test]
    fn failures_without_an_info_hash_are_ours_too() {
        let failure = |info_hash| {
            TrackerMessage::Failure(Failure {
                action: None,
                info_hash,
                reason: "nope".into(),
            })
        };
        assert_eq!(
            classify(failure(None), &OURS, &ME, nobody),
            Step::Failure("nope".into())
        );
        assert_eq!(
            classify(failure(Some(OURS)), &OURS, &ME, nobody),
            Step::Failure("nope".into())
        );
        assert_eq!(
            classify(failure(Some(InfoHash([7; 20]))), &OURS, &ME, nobody),
            Step::Ignore
        );
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_a_minute() {
        assert_eq!(backoff_ms(0, 0), 1_000);
        assert_eq!(backoff_ms(1, 0), 2_000);
        assert_eq!(backoff_ms(5, 0), 32_000);
        assert_eq!(backoff_ms(6, 0), 60_000);
        assert_eq!(backoff_ms(1_000, 0), 60_000);
        assert_eq!(backoff_ms(2, 250), 4_250);
    }

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

    #[test]
    fn hungry_clients_announce_sooner_with_backoff() {
        assert_eq!(announce_delay_ms(120, 0), 120_000);
        assert_eq!(announce_delay_ms(120, 1), 5_000);
        assert_eq!(announce_delay_ms(120, 2), 10_000);
        assert_eq!(announce_delay_ms(120, 4), 40_000);
        assert_eq!(announce_delay_ms(120, 6), 120_000);
        assert_eq!(announce_delay_ms(120, 40), 120_000);
        assert_eq!(announce_delay_ms(10, 3), 10_000);
    }

    #[test]
    fn join_all_waits_for_every_future_and_keeps_their_order() {
        /// Ready with `v` after being polled `pending` times.
        struct After {
            pending: u32,
            v: u32,
        }
        impl Future for After {
            type Output = u32;
            fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<u32> {
                if self.pending == 0 {
                    return Poll::Ready(self.v);
                }
                self.pending -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
        let futures = vec![
            After { pending: 2, v: 1 },
            After { pending: 0, v: 2 },
            After { pending: 1, v: 3 },
        ];
        let mut joined = Box::pin(join_all(futures));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut polls = 1;
        let out = loop {
            match joined.as_mut().poll(&mut cx) {
                Poll::Ready(out) => break out,
                Poll::Pending => polls += 1,
            }
        };
        assert_eq!(out, vec![1, 2, 3]);
        assert_eq!(polls, 3);
        assert_eq!(
            Box::pin(join_all(Vec::<After>::new()))
                .as_mut()
                .poll(&mut cx),
            Poll::Ready(vec![])
        );
    }

    #[test]
    fn intervals_are_clamped() {
        assert_eq!(clamp_interval(0), 10);
        assert_eq!(clamp_interval(120), 120);
        assert_eq!(clamp_interval(u32::MAX), 3600);
    }
}
