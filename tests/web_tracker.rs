//! Browser tests of the WebSocket tracker client against a real tracker.
//!
//! The tracker's URL comes from `TABSWARM_TRACKER_URL` at build time (the test script starts
//! `tabswarm-tracker --listen 127.0.0.1:PORT` and sets it); without it the tests use
//! `ws://127.0.0.1:8080/announce`, and fail if no tracker listens there.
#![cfg(target_arch = "wasm32")]

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use futures::channel::mpsc;
use futures::StreamExt;
use tabswarm::peer_slots::{PeerSlots, Slot};
use tabswarm::rtc::{EventSink, RtcConfig, RtcEvent, RtcPeer};
use tabswarm::tracker_client::{Host, Identity, Notice, TrackerClient, Transfer};
use tabswarm_core::tracker_proto::{InfoHash, PeerId};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const TRACKER: &str = match option_env!("TABSWARM_TRACKER_URL") {
    Some(url) => url,
    None => "ws://127.0.0.1:8080/announce",
};

/// Records what the tracker client hands over.
struct TestHost {
    next_id: Cell<u64>,
    events: mpsc::UnboundedSender<(u64, RtcEvent)>,
    connected: RefCell<Vec<(u64, RtcPeer, PeerId, bool)>>,
    notices: mpsc::UnboundedSender<Notice>,
    slots: PeerSlots,
    offers: usize,
}

impl Host for TestHost {
    fn connection_sink(&self) -> (u64, EventSink) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let tx = self.events.clone();
        (
            id,
            Rc::new(move |ev| {
                let _ = tx.unbounded_send((id, ev));
            }),
        )
    }
    fn connected(&self, id: u64, peer: RtcPeer, remote: PeerId, we_offered: bool, _: Slot) {
        self.connected
            .borrow_mut()
            .push((id, peer, remote, we_offered));
    }
    fn accept_offer_from(&self, remote: &PeerId) -> Option<Slot> {
        self.slots.for_answer(remote)
    }
    fn offer_slots(&self, want: usize) -> Vec<Slot> {
        self.slots.for_offers(want.min(self.offers))
    }
    fn is_banned(&self, remote: &PeerId) -> bool {
        self.slots.is_banned(remote)
    }
    fn hungry(&self) -> bool {
        false
    }
    fn transfer(&self) -> Transfer {
        Transfer {
            uploaded: 0,
            downloaded: 0,
            left: Some(1000),
        }
    }
    fn notice(&self, notice: Notice) {
        let _ = self.notices.unbounded_send(notice);
    }
}

struct Side {
    host: Rc<TestHost>,
    events: mpsc::UnboundedReceiver<(u64, RtcEvent)>,
    notices: mpsc::UnboundedReceiver<Notice>,
}

fn side(offers: usize) -> Side {
    let (etx, events) = mpsc::unbounded();
    let (ntx, notices) = mpsc::unbounded();
    Side {
        host: Rc::new(TestHost {
            next_id: Cell::new(1),
            events: etx,
            connected: RefCell::new(Vec::new()),
            notices: ntx,
            slots: PeerSlots::new(50),
            offers,
        }),
        events,
        notices,
    }
}

fn weak(host: &Rc<TestHost>) -> Weak<dyn Host> {
    let w: Weak<TestHost> = Rc::downgrade(host);
    w
}

fn random_id() -> [u8; 20] {
    let mut b = [0u8; 20];
    tabswarm::js::random_bytes(&mut b);
    b
}

fn identity(info_hash: InfoHash, peer_id: PeerId) -> Identity {
    Identity {
        info_hash,
        peer_id,
        rtc: RtcConfig::new(js_sys::Array::new().into()),
    }
}

/// Waits for the next `Swarm` notice (an announce response), failing on anything else.
async fn swarm_notice(notices: &mut mpsc::UnboundedReceiver<Notice>) -> (u32, u32) {
    match notices.next().await.expect("notices") {
        Notice::Swarm {
            complete,
            incomplete,
            ..
        } => (complete.unwrap_or(0), incomplete.unwrap_or(0)),
        other => panic!("tracker at {TRACKER}: {other}"),
    }
}

/// Waits until connection `id` opens.
async fn opened(events: &mut mpsc::UnboundedReceiver<(u64, RtcEvent)>) -> u64 {
    loop {
        let (id, ev) = events.next().await.expect("events");
        match ev {
            RtcEvent::Open => return id,
            RtcEvent::Closed { reason, .. } => {
                panic!("connection {id} closed before opening: {reason}")
            }
            _ => {}
        }
    }
}

/// Scrapes `info_hash` over a separate raw WebSocket: (complete, incomplete).
async fn scrape(info_hash: InfoHash) -> (f64, f64) {
    let ws = web_sys::WebSocket::new(TRACKER).expect("websocket");
    let (tx, mut rx) = mpsc::unbounded::<String>();
    let _open = {
        let (ws2, ih) = (ws.clone(), info_hash);
        tabswarm::js::Listener::new(&ws, "open", move |_| {
            let req = format!(
                r#"{{"action":"scrape","info_hash":{}}}"#,
                serde_json_string(&ih.to_binary_string())
            );
            ws2.send_with_str(&req).expect("send scrape");
        })
    };
    let _msg = tabswarm::js::Listener::new(&ws, "message", move |ev| {
        let ev: web_sys::MessageEvent = ev.unchecked_into();
        if let Some(s) = ev.data().as_string() {
            let _ = tx.unbounded_send(s);
        }
    });
    let text = rx.next().await.expect("scrape reply");
    let _ = ws.close();
    let v: js_sys::Object = js_sys::JSON::parse(&text).expect("json").unchecked_into();
    let files = js_sys::Reflect::get(&v, &"files".into()).expect("files");
    let entry = js_sys::Reflect::get(&files, &info_hash.to_binary_string().into()).expect("entry");
    let num = |k: &str| {
        js_sys::Reflect::get(&entry, &k.into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(-1.0)
    };
    (num("complete"), num("incomplete"))
}

fn serde_json_string(s: &str) -> String {
    String::from(js_sys::JSON::stringify(&s.into()).expect("stringify"))
}

#[wasm_bindgen_test]
async fn two_clients_meet_through_the_tracker_and_connect() {
    let info_hash = InfoHash(random_id());
    let (id_a, id_b) = (PeerId(random_id()), PeerId(random_id()));

    // A announces first (its offers find nobody), then B, whose offers reach A.
    let mut a = side(5);
    let client_a = TrackerClient::new(TRACKER, identity(info_hash, id_a), weak(&a.host));
    let (_, leechers) = swarm_notice(&mut a.notices).await;
    assert_eq!(leechers, 1, "A alone in a fresh swarm");
    let mut b = side(5);
    let client_b = TrackerClient::new(TRACKER, identity(info_hash, id_b), weak(&b.host));
    swarm_notice(&mut b.notices).await;
    assert!(client_a.is_connected() && client_b.is_connected());

    let conn_a = opened(&mut a.events).await;
    let conn_b = opened(&mut b.events).await;
    {
        let a_peers = a.host.connected.borrow();
        let b_peers = b.host.connected.borrow();
        let (_, peer_a, remote_of_a, a_offered) = a_peers
            .iter()
            .find(|(id, ..)| *id == conn_a)
            .expect("A was handed the open connection");
        let (_, _, remote_of_b, b_offered) = b_peers
            .iter()
            .find(|(id, ..)| *id == conn_b)
            .expect("B was handed the open connection");
        assert_eq!(*remote_of_a, id_b, "A answered B's offer");
        assert_eq!(*remote_of_b, id_a, "B got A's answer");
        assert!(
            !*a_offered && *b_offered,
            "the offer was B's, the answer A's"
        );
        peer_a.send(b"hello through the tracker").expect("send");
    }
    loop {
        let (id, ev) = b.events.next().await.expect("events");
        if let RtcEvent::Data(d) = ev {
            assert_eq!(id, conn_b);
            assert_eq!(d, b"hello through the tracker");
            break;
        }
    }
    assert_eq!(scrape(info_hash).await, (0.0, 2.0));

    // Dropping A announces `stopped`: the tracker forgets it at once.
    drop(client_a);
    let mut left = scrape(info_hash).await;
    for _ in 0..20 {
        if left == (0.0, 1.0) {
            break;
        }
        left = scrape(info_hash).await;
    }
    assert_eq!(left, (0.0, 1.0), "A left the swarm");
    drop(client_b);
}

#[wasm_bindgen_test]
async fn an_unreachable_tracker_is_reported_and_retried() {
    let mut s = side(1);
    let client = TrackerClient::new(
        "ws://127.0.0.1:9/announce",
        identity(InfoHash(random_id()), PeerId(random_id())),
        weak(&s.host),
    );
    match s.notices.next().await {
        Some(Notice::Unreachable { url, retry_ms }) => {
            assert_eq!(url, "ws://127.0.0.1:9/announce");
            assert!(
                (1_000..2_000).contains(&retry_ms),
                "first retry ~1 s: {retry_ms}"
            );
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    match s.notices.next().await {
        Some(Notice::Unreachable { retry_ms, .. }) => {
            assert!(
                (2_000..3_000).contains(&retry_ms),
                "backoff doubles: {retry_ms}"
            )
        }
        other => panic!("expected a second Unreachable, got {other:?}"),
    }
    assert!(!client.is_connected());
}

#[wasm_bindgen_test]
async fn a_bad_url_is_reported_not_panicked() {
    let mut s = side(1);
    let _client = TrackerClient::new(
        "not a url",
        identity(InfoHash(random_id()), PeerId(random_id())),
        weak(&s.host),
    );
    match s.notices.next().await {
        Some(Notice::BadUrl { url, reason }) => {
            assert_eq!(url, "not a url");
            assert!(!reason.is_empty());
        }
        other => panic!("expected BadUrl, got {other:?}"),
    }
}
