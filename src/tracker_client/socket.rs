//! The WebSocket's lifecycle: connect, (re)announce on open and on a timer, read messages,
//! reconnect after a loss, and announce `stopped` before closing.

use std::cell::RefCell;
use std::rc::Rc;

use tabswarm_core::tracker_proto::{AnnounceRequest, DecodeError, Event, Offer};
use tabswarm_core::tracker_session::{self, Step};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

use super::{check_url, offers, Notice, State};
use crate::js::{self, Listener, Timer};
use crate::tracker_json;

pub(super) struct Socket {
    ws: web_sys::WebSocket,
    _listeners: [Listener; 4],
}

impl Socket {
    pub(super) fn is_open(&self) -> bool {
        self.ws.ready_state() == web_sys::WebSocket::OPEN
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self.ws.close();
    }
}

pub(super) fn connect(state: &Rc<RefCell<State>>) {
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
    let event = state.borrow().session.opened_event();
    offers::announce_with_offers(state, Some(event));
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
        let delay = s.session.lost(random_u16());
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
    let text = tracker_session::check_size(len).and_then(|()| {
        if let Some(text) = data.as_string() {
            Ok(text)
        } else if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
            String::from_utf8(js_sys::Uint8Array::new(buf).to_vec())
                .map_err(|_| DecodeError::invalid_json("invalid UTF-8".into()))
        } else {
            Err(DecodeError::invalid_json("neither text nor binary".into()))
        }
    });
    let (url, host) = {
        let s = state.borrow();
        (s.url.clone(), s.host.upgrade())
    };
    let Some(host) = host else { return };
    let msg = match text.and_then(|t| tracker_json::tracker_message_from_json(&t)) {
        Ok(m) => m,
        Err(e) => {
            host.notice(Notice::Malformed {
                url,
                reason: tracker_session::tracker_text(e.to_string()),
            });
            return;
        }
    };
    let step = state
        .borrow_mut()
        .session
        .on_message(msg, |id| host.is_banned(id));
    match step {
        Step::Ignore => {}
        Step::Failure(reason) => host.notice(Notice::Failure { url, reason }),
        Step::Response(r) => {
            arm_announce_timer(state, host.hungry());
            if let Some(message) = r.warning_message {
                host.notice(Notice::Warning {
                    url: url.clone(),
                    message,
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
                spawn_local(offers::complete_offer(
                    Rc::downgrade(&host),
                    p,
                    f.peer_id,
                    f.answer,
                ));
            }
        }
        Step::Offer(f) => {
            if let Some(slot) = host.accept_offer_from(&f.peer_id) {
                let rtc = state.borrow().identity.rtc.clone();
                spawn_local(offers::answer_offer(
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

/// Sends an announce with the host's counters; returns false if the socket is not open.
pub(super) fn send_announce(
    state: &Rc<RefCell<State>>,
    event: Option<Event>,
    offers: Vec<Offer>,
) -> bool {
    let host = state.borrow().host.upgrade();
    let transfer = host.as_ref().map(|h| h.transfer()).unwrap_or_default();
    let req = state.borrow().session.announce(event, offers, transfer);
    let sent = send(state, &req);
    if sent {
        let hungry = host.as_ref().is_some_and(|h| h.hungry());
        let next = state.borrow_mut().session.announced(event, hungry);
        if let Some(ms) = next {
            set_announce_timer(state, ms);
        }
    }
    sent
}

/// Sends `req` if the socket is open; false if not.
pub(super) fn send(state: &Rc<RefCell<State>>, req: &AnnounceRequest) -> bool {
    let s = state.borrow();
    match s.socket.as_ref() {
        Some(sock) if sock.is_open() => sock
            .ws
            .send_with_str(&tracker_json::announce_to_json(req))
            .is_ok(),
        _ => false,
    }
}

fn arm_announce_timer(state: &Rc<RefCell<State>>, hungry: bool) {
    let ms = state.borrow_mut().session.next_announce_ms(hungry);
    set_announce_timer(state, ms);
}

fn set_announce_timer(state: &Rc<RefCell<State>>, ms: u32) {
    let weak = Rc::downgrade(state);
    let timer = Timer::once(ms, move || {
        if let Some(state) = weak.upgrade() {
            offers::announce_with_offers(&state, None);
        }
    });
    state.borrow_mut().announce_timer = Some(timer);
}

/// Announces `stopped` and closes the connection; nothing happens after this.
pub(super) fn stop(state: &Rc<RefCell<State>>) {
    if std::mem::replace(&mut state.borrow_mut().stopped, true) {
        return;
    }
    send_announce(state, Some(Event::Stopped), Vec::new());
    let (socket, pending) = {
        let mut s = state.borrow_mut();
        s.reconnect = None;
        s.announce_timer = None;
        s.peer_lost_timer = None;
        s.expiry = None;
        (s.socket.take(), std::mem::take(&mut s.pending))
    };
    // Closing after the send: the close frame follows the queued `stopped` message.
    drop(socket);
    drop(pending);
}

fn random_u16() -> u16 {
    let mut b = [0u8; 2];
    js::random_bytes(&mut b);
    u16::from_le_bytes(b)
}
