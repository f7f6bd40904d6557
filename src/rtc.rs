//! WebRTC transport: one `RTCPeerConnection` and one ordered, reliable data channel per peer.
//!
//! Signalling is non-trickle, as the WebTorrent tracker protocol requires: [`RtcPeer::offer`]
//! and [`RtcPeer::answer`] resolve with a complete SDP once ICE gathering finishes (or shortly
//! after the first candidate, if gathering drags on). The channel is a plain byte stream: the
//! peer wire protocol above it parses by length prefix, so message boundaries carry no meaning.
//!
//! Events ([`RtcEvent`]) go to one sink per peer. Backpressure: [`RtcPeer::send`] reports
//! "stop" once `bufferedAmount` passes [`HIGH_WATER`], and the sink later gets
//! [`RtcEvent::Writable`] when the buffer has drained to [`LOW_WATER`], from the
//! `bufferedamountlow` event or, because that event is sometimes missed, from a short poll that
//! runs only while the channel is blocked. [`HIGH_WATER`] keeps the buffer far below the
//! ~16 MiB at which Chrome closes a channel.
//!
//! Every JS closure is owned by the [`RtcPeer`] (through [`Listener`] and [`Timer`]); dropping
//! the peer removes them and closes the connection.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};

use futures::channel::oneshot;
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    RtcConfiguration, RtcDataChannel, RtcDataChannelInit, RtcDataChannelState, RtcDataChannelType,
    RtcIceGatheringState, RtcPeerConnection, RtcSdpType, RtcSessionDescriptionInit,
};

use crate::js::{error_text, Listener, Timer};

/// At this many buffered bytes [`RtcPeer::send`] asks the caller to stop (2 MiB). The driver
/// gives the engine the same figure as `max_send_buffer`, so the engine pauses uploads exactly
/// when the channel reports "stop", and resumes on [`RtcEvent::Writable`].
pub const HIGH_WATER: u32 = 2 * 1024 * 1024;
/// The buffer level at which a blocked channel becomes writable again (512 KiB).
pub const LOW_WATER: u32 = 512 * 1024;
/// The largest message we send unless the client says otherwise (`maxMessageSize`), whatever a
/// peer advertises. Fewer, larger messages cost less per byte than WebTorrent's 16 KiB, but
/// 128 KiB measured no slower than 256 KiB Chromium to Chromium and stays well inside every
/// stack's limit (libtorrent 2.1 advertises 256 KiB); the measurements are in
/// bench/results/NOTES.md, "Data-channel message size".
pub const MAX_MESSAGE: usize = 128 * 1024;
/// The range `maxMessageSize` may take: down to WebTorrent's 16 KiB, up to the 256 KiB that
/// Chromium and Firefox advertise.
pub const MESSAGE_RANGE: std::ops::RangeInclusive<usize> = 16 * 1024..=256 * 1024;
/// The message size every SCTP stack takes, for connections that report no limit.
pub const DEFAULT_MESSAGE: usize = 64 * 1024;

/// Poll period of the fallback for missed `bufferedamountlow` events, while blocked.
const WRITABLE_POLL_MS: u32 = 50;
/// After the first ICE candidate, wait at most this long for gathering to complete.
const ICE_SETTLE_MS: u32 = 1_000;
/// Never wait longer than this for ICE gathering.
const ICE_MAX_MS: u32 = 5_000;
/// A connection `disconnected` this long (its ICE consent checks went unanswered) is given up
/// as lost. Browsers wait much longer before `failed` (Chromium 10 s more here, up to 30 s),
/// and a remote whose side died may not announce again for minutes: libtorrent 2.1 under CPU
/// load loses its end of a transferring connection without a close reaching us, and has no
/// other peer to download from until someone offers again (bench/results/NOTES.md).
const DISCONNECTED_GRACE_MS: u32 = 2_000;
/// The label of the channels we open; peers accept any label (WebTorrent's are random hex).
const CHANNEL_LABEL: &str = "tabswarm";

/// What went wrong in the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcError {
    /// The browser refused to create an `RTCPeerConnection` (invalid `iceServers`, WebRTC
    /// disabled or unavailable).
    Create(String),
    /// Negotiation failed: `createOffer`, `createAnswer`, `setLocalDescription` or
    /// `setRemoteDescription` rejected, typically because a peer sent a malformed SDP.
    Negotiation(String),
    /// A send on a channel that is not open (not yet, or no longer).
    NotOpen,
    /// `RTCDataChannel.send` threw (the channel closed underneath, or the message is too large).
    Send(String),
}

impl fmt::Display for RtcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RtcError::Create(m) => write!(f, "cannot create an RTCPeerConnection: {m}"),
            RtcError::Negotiation(m) => write!(f, "WebRTC negotiation failed: {m}"),
            RtcError::NotOpen => write!(f, "the data channel is not open"),
            RtcError::Send(m) => write!(f, "data channel send failed: {m}"),
        }
    }
}

impl std::error::Error for RtcError {}

/// What a peer connection reports to its sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcEvent {
    /// The data channel opened; sends are possible from now on.
    Open,
    /// Bytes arrived (one data channel message; boundaries carry no meaning).
    Data(Vec<u8>),
    /// A blocked channel drained to [`LOW_WATER`]: sending may resume.
    Writable,
    /// The channel or the connection closed or failed. Reported once, and never after the
    /// [`RtcPeer`] was dropped. `lost`: the transport failed (the connection went `failed`, or
    /// stayed `disconnected` for [`DISCONNECTED_GRACE_MS`]) rather than being closed by a side.
    Closed { reason: String, lost: bool },
}

/// Receives a peer's events. Called from JS event handlers; it may drop the [`RtcPeer`].
pub type EventSink = Rc<dyn Fn(RtcEvent)>;

/// Settings shared by every connection of a client.
#[derive(Clone, Debug)]
pub struct RtcConfig {
    ice_servers: JsValue,
    /// The cap on messages we send, whatever the peer advertises ([`MAX_MESSAGE`] unless set).
    max_message: usize,
}

impl RtcConfig {
    /// `ice_servers` is the JS `iceServers` array (`[]` for loopback-only tests); `undefined`
    /// leaves the browser's default.
    pub fn new(ice_servers: JsValue) -> RtcConfig {
        RtcConfig {
            ice_servers,
            max_message: MAX_MESSAGE,
        }
    }

    /// Caps the messages sent at `max` bytes, clamped to [`MESSAGE_RANGE`].
    #[must_use]
    pub fn with_max_message(self, max: usize) -> RtcConfig {
        RtcConfig {
            max_message: max.clamp(*MESSAGE_RANGE.start(), *MESSAGE_RANGE.end()),
            ..self
        }
    }

    fn to_js(&self) -> RtcConfiguration {
        let c = RtcConfiguration::new();
        if !self.ice_servers.is_undefined() && !self.ice_servers.is_null() {
            c.set_ice_servers(&self.ice_servers);
        }
        c
    }
}

impl Default for RtcConfig {
    fn default() -> RtcConfig {
        RtcConfig::new(JsValue::UNDEFINED)
    }
}

/// One peer connection with its data channel.
pub struct RtcPeer {
    pc: RtcPeerConnection,
    shared: Rc<Shared>,
    /// [`RtcPeer::max_message`], once the connection is up.
    max_message: Cell<Option<usize>>,
    /// The client's cap on messages ([`RtcConfig::with_max_message`]).
    cap: usize,
    _listeners: Vec<Listener>,
}

impl RtcPeer {
    /// Starts a connection as the initiator: opens the data channel and resolves with the
    /// complete offer SDP. Pass the remote answer to [`RtcPeer::accept_answer`].
    pub async fn offer(config: &RtcConfig, sink: EventSink) -> Result<(RtcPeer, String), RtcError> {
        let peer = RtcPeer::create(config, sink)?;
        let init = RtcDataChannelInit::new();
        init.set_ordered(true);
        let dc = peer
            .pc
            .create_data_channel_with_data_channel_dict(CHANNEL_LABEL, &init);
        attach_channel(&peer.shared, dc);
        let offer = JsFuture::from(peer.pc.create_offer())
            .await
            .map_err(negotiation)?;
        let offer: RtcSessionDescriptionInit = offer.unchecked_into();
        JsFuture::from(peer.pc.set_local_description(&offer))
            .await
            .map_err(negotiation)?;
        let sdp = gathered_sdp(&peer.pc).await?;
        Ok((peer, sdp))
    }

    /// Answers a remote offer: resolves with the complete answer SDP to send back. The data
    /// channel arrives from the offerer, with any label.
    pub async fn answer(
        config: &RtcConfig,
        offer_sdp: &str,
        sink: EventSink,
    ) -> Result<(RtcPeer, String), RtcError> {
        let peer = RtcPeer::create(config, sink)?;
        let remote = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        remote.set_sdp(offer_sdp);
        JsFuture::from(peer.pc.set_remote_description(&remote))
            .await
            .map_err(negotiation)?;
        let answer = JsFuture::from(peer.pc.create_answer())
            .await
            .map_err(negotiation)?;
        let answer: RtcSessionDescriptionInit = answer.unchecked_into();
        JsFuture::from(peer.pc.set_local_description(&answer))
            .await
            .map_err(negotiation)?;
        let sdp = gathered_sdp(&peer.pc).await?;
        Ok((peer, sdp))
    }

    /// Completes an offer made with [`RtcPeer::offer`].
    pub async fn accept_answer(&self, answer_sdp: &str) -> Result<(), RtcError> {
        let remote = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        remote.set_sdp(answer_sdp);
        JsFuture::from(self.pc.set_remote_description(&remote))
            .await
            .map_err(negotiation)?;
        Ok(())
    }

    /// The largest message to send on this connection: the SCTP transport's `maxMessageSize`
    /// (the smaller of both sides' limits) capped at the client's limit ([`RtcConfig`]), or
    /// [`DEFAULT_MESSAGE`] where the browser does not say. Read again until the transport is
    /// connected: Firefox reports 64 KiB before that, the negotiated size after.
    pub fn max_message(&self) -> usize {
        if let Some(n) = self.max_message.get() {
            return n;
        }
        let sctp = crate::js::prop(&self.pc, "sctp");
        if !sctp.is_object() {
            // Before negotiation completes: ask again later.
            return DEFAULT_MESSAGE.min(self.cap);
        }
        let limit = crate::js::prop(&sctp, "maxMessageSize").as_f64();
        #[allow(clippy::cast_precision_loss)]
        let n = match limit {
            // Infinity (no limit) included.
            Some(x) if x >= self.cap as f64 => self.cap,
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(x) if x >= 1024.0 => x as usize,
            _ => DEFAULT_MESSAGE.min(self.cap),
        };
        if crate::js::prop(&sctp, "state").as_string().as_deref() == Some("connected") {
            self.max_message.set(Some(n));
        }
        n
    }

    /// Sends one message (at most [`RtcPeer::max_message`] bytes). `Ok(true)` means keep
    /// sending; `Ok(false)` means the buffer reached [`HIGH_WATER`]: wait for
    /// [`RtcEvent::Writable`].
    pub fn send(&self, data: &[u8]) -> Result<bool, RtcError> {
        let channel = self.shared.channel.borrow();
        let dc = match channel.as_ref() {
            Some(c) if c.dc.ready_state() == RtcDataChannelState::Open => &c.dc,
            _ => return Err(RtcError::NotOpen),
        };
        dc.send_with_u8_array(data)
            .map_err(|e| RtcError::Send(error_text(&e)))?;
        let over = dc.buffered_amount() >= HIGH_WATER;
        drop(channel);
        if over && !self.shared.blocked.replace(true) {
            arm_poll(&self.shared);
        }
        Ok(!self.shared.blocked.get())
    }

    /// True while the data channel is open.
    pub fn is_open(&self) -> bool {
        self.shared
            .channel
            .borrow()
            .as_ref()
            .is_some_and(|c| c.dc.ready_state() == RtcDataChannelState::Open)
    }

    /// Bytes queued in the data channel and not yet handed to the network.
    pub fn buffered_amount(&self) -> u32 {
        self.shared
            .channel
            .borrow()
            .as_ref()
            .map_or(0, |c| c.dc.buffered_amount())
    }

    fn create(config: &RtcConfig, sink: EventSink) -> Result<RtcPeer, RtcError> {
        let pc = RtcPeerConnection::new_with_configuration(&config.to_js())
            .map_err(|e| RtcError::Create(error_text(&e)))?;
        let shared = Rc::new(Shared {
            sink,
            channel: RefCell::new(None),
            opened: Cell::new(false),
            blocked: Cell::new(false),
            poll: RefCell::new(None),
            closed: Cell::new(false),
            grace: RefCell::new(None),
        });
        let on_channel = {
            let weak = Rc::downgrade(&shared);
            Listener::new(&pc, "datachannel", move |ev| {
                let Some(shared) = weak.upgrade() else { return };
                let Ok(ev) = ev.dyn_into::<web_sys::RtcDataChannelEvent>() else {
                    return;
                };
                let dc = ev.channel();
                if shared.channel.borrow().is_some() {
                    // One channel per peer: the wire protocol runs on the first one.
                    dc.close();
                    return;
                }
                attach_channel(&shared, dc);
            })
        };
        let on_state = {
            let weak = Rc::downgrade(&shared);
            let pc2 = pc.clone();
            Listener::new(&pc, "connectionstatechange", move |_| {
                let Some(shared) = weak.upgrade() else { return };
                on_connection_state(&shared, &pc2);
            })
        };
        Ok(RtcPeer {
            pc,
            shared,
            max_message: Cell::new(None),
            cap: config.max_message,
            _listeners: vec![on_channel, on_state],
        })
    }
}

impl Drop for RtcPeer {
    fn drop(&mut self) {
        self.shared.closed.set(true);
        self.shared.poll.borrow_mut().take();
        self.shared.grace.borrow_mut().take();
        if let Some(channel) = self.shared.channel.borrow_mut().take() {
            let dc = channel.dc.clone();
            drop(channel);
            dc.close();
        }
        self._listeners.clear();
        self.pc.close();
    }
}

/// State that the JS handlers reach through a `Weak`, so they never keep a dropped peer alive.
struct Shared {
    sink: EventSink,
    channel: RefCell<Option<Channel>>,
    /// `Open` was reported.
    opened: Cell<bool>,
    /// Set when a send pushed the buffer past HIGH_WATER; cleared (with a `Writable` event)
    /// when it drains to LOW_WATER.
    blocked: Cell<bool>,
    /// The fallback poll, armed only while blocked.
    poll: RefCell<Option<Timer>>,
    /// `Closed` was reported (or the peer was dropped): report nothing more.
    closed: Cell<bool>,
    /// Armed while the connection is `disconnected`: gives it up after [`DISCONNECTED_GRACE_MS`].
    grace: RefCell<Option<Timer>>,
}

struct Channel {
    dc: RtcDataChannel,
    _listeners: [Listener; 5],
}

fn attach_channel(shared: &Rc<Shared>, dc: RtcDataChannel) {
    dc.set_binary_type(RtcDataChannelType::Arraybuffer);
    dc.set_buffered_amount_low_threshold(LOW_WATER);
    let weak = Rc::downgrade(shared);
    let with = move |f: fn(&Rc<Shared>, web_sys::Event)| {
        let weak: Weak<Shared> = weak.clone();
        move |ev: web_sys::Event| {
            if let Some(shared) = weak.upgrade() {
                if !shared.closed.get() {
                    f(&shared, ev);
                }
            }
        }
    };
    let listeners = [
        Listener::new(&dc, "open", with(|s, _| emit_open(s))),
        Listener::new(&dc, "message", with(on_message)),
        Listener::new(&dc, "bufferedamountlow", with(|s, _| unblock(s))),
        Listener::new(
            &dc,
            "close",
            with(|s, _| emit_closed(s, "data channel closed", false)),
        ),
        Listener::new(
            &dc,
            "error",
            with(|s, ev| {
                let msg = ev
                    .dyn_ref::<web_sys::ErrorEvent>()
                    .map(|e| e.message())
                    .unwrap_or_else(|| "data channel error".to_string());
                emit_closed(s, &msg, false);
            }),
        ),
    ];
    let open_now = dc.ready_state() == RtcDataChannelState::Open;
    *shared.channel.borrow_mut() = Some(Channel {
        dc,
        _listeners: listeners,
    });
    if open_now {
        emit_open(shared);
    }
}

/// Reports `Open` once: a channel announced by the remote side may already be open when it
/// arrives and still fire `open`.
fn emit_open(shared: &Rc<Shared>) {
    if !shared.opened.replace(true) {
        (shared.sink)(RtcEvent::Open);
    }
}

fn on_message(shared: &Rc<Shared>, ev: web_sys::Event) {
    let Ok(ev) = ev.dyn_into::<web_sys::MessageEvent>() else {
        return;
    };
    let data = ev.data();
    let bytes = if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
        js_sys::Uint8Array::new(buf).to_vec()
    } else if let Some(text) = data.as_string() {
        // Peers that send strings mean their UTF-8 bytes (simple-peer's text2arr).
        text.into_bytes()
    } else {
        return;
    };
    (shared.sink)(RtcEvent::Data(bytes));
}

fn unblock(shared: &Rc<Shared>) {
    if shared.blocked.replace(false) {
        shared.poll.borrow_mut().take();
        (shared.sink)(RtcEvent::Writable);
    }
}

fn arm_poll(shared: &Rc<Shared>) {
    let weak = Rc::downgrade(shared);
    let timer = Timer::interval(WRITABLE_POLL_MS, move || {
        let Some(shared) = weak.upgrade() else { return };
        let low = shared
            .channel
            .borrow()
            .as_ref()
            .is_some_and(|c| c.dc.buffered_amount() <= LOW_WATER);
        if low && !shared.closed.get() {
            unblock(&shared);
        }
    });
    *shared.poll.borrow_mut() = Some(timer);
}

fn emit_closed(shared: &Rc<Shared>, reason: &str, lost: bool) {
    if !shared.closed.replace(true) {
        shared.poll.borrow_mut().take();
        shared.grace.borrow_mut().take();
        (shared.sink)(RtcEvent::Closed {
            reason: reason.to_string(),
            lost,
        });
    }
}

/// `failed` ends the connection; `disconnected` does after [`DISCONNECTED_GRACE_MS`] unless it
/// recovers first.
fn on_connection_state(shared: &Rc<Shared>, pc: &RtcPeerConnection) {
    use web_sys::RtcPeerConnectionState as S;
    match pc.connection_state() {
        S::Failed => emit_closed(shared, "connection failed", true),
        S::Closed => emit_closed(shared, "connection closed", false),
        S::Disconnected => {
            if shared.grace.borrow().is_some() || shared.closed.get() {
                return;
            }
            let weak = Rc::downgrade(shared);
            let pc = pc.clone();
            let timer = Timer::once(DISCONNECTED_GRACE_MS, move || {
                let Some(shared) = weak.upgrade() else { return };
                shared.grace.borrow_mut().take();
                if matches!(pc.connection_state(), S::Disconnected | S::Failed) {
                    let reason = format!("connection disconnected for {DISCONNECTED_GRACE_MS} ms");
                    emit_closed(&shared, &reason, true);
                }
            });
            *shared.grace.borrow_mut() = Some(timer);
        }
        _ => {
            shared.grace.borrow_mut().take();
        }
    }
}

fn negotiation(e: JsValue) -> RtcError {
    RtcError::Negotiation(error_text(&e))
}

/// Waits for ICE gathering (complete, or [`ICE_SETTLE_MS`] after the first candidate, or
/// [`ICE_MAX_MS`] in all) and returns the local description's SDP for non-trickle signalling.
async fn gathered_sdp(pc: &RtcPeerConnection) -> Result<String, RtcError> {
    let (tx, rx) = oneshot::channel::<()>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let fire: Rc<dyn Fn()> = Rc::new(move || {
        if let Some(tx) = tx.borrow_mut().take() {
            let _ = tx.send(());
        }
    });
    let settle: Rc<RefCell<Option<Timer>>> = Rc::new(RefCell::new(None));
    let _on_state = {
        let (pc2, fire) = (pc.clone(), fire.clone());
        Listener::new(pc, "icegatheringstatechange", move |_| {
            if pc2.ice_gathering_state() == RtcIceGatheringState::Complete {
                fire();
            }
        })
    };
    let _on_candidate = {
        let (fire, settle) = (fire.clone(), settle.clone());
        Listener::new(pc, "icecandidate", move |ev| {
            let candidate = ev
                .dyn_ref::<web_sys::RtcPeerConnectionIceEvent>()
                .and_then(|e| e.candidate());
            if candidate.is_none() {
                fire();
            } else if settle.borrow().is_none() {
                let fire = fire.clone();
                *settle.borrow_mut() = Some(Timer::once(ICE_SETTLE_MS, move || fire()));
            }
        })
    };
    let _cap = {
        let fire = fire.clone();
        Timer::once(ICE_MAX_MS, move || fire())
    };
    if pc.ice_gathering_state() == RtcIceGatheringState::Complete {
        fire();
    }
    let _ = rx.await;
    settle.borrow_mut().take();
    let desc = pc
        .local_description()
        .ok_or_else(|| RtcError::Negotiation("no local description after gathering".into()))?;
    Ok(strip_trickle(&desc.sdp()))
}

/// Removes `a=ice-options:trickle`: our descriptions are complete, as simple-peer's are.
fn strip_trickle(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .filter(|line| line.trim_end() != "a=ice-options:trickle")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_trickle_drops_only_that_line() {
        let sdp = "v=0\r\na=ice-options:trickle\r\na=mid:0\r\n";
        assert_eq!(strip_trickle(sdp), "v=0\r\na=mid:0\r\n");
        assert_eq!(strip_trickle("v=0\r\n"), "v=0\r\n");
    }
}
