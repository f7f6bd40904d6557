//! Helpers shared by the data-channel browser tests.
#![allow(dead_code)]

use std::rc::Rc;

use futures::channel::mpsc;
use futures::StreamExt;
use tabswarm::rtc::{EventSink, RtcConfig, RtcEvent, RtcPeer};

pub(crate) type Events = mpsc::UnboundedReceiver<RtcEvent>;

pub(crate) fn sink() -> (EventSink, Events) {
    let (tx, rx) = mpsc::unbounded();
    let sink: EventSink = Rc::new(move |ev| {
        let _ = tx.unbounded_send(ev);
    });
    (sink, rx)
}

pub(crate) fn config() -> RtcConfig {
    RtcConfig::new(js_sys::Array::new().into())
}

pub(crate) async fn connected_pair() -> ((RtcPeer, Events), (RtcPeer, Events)) {
    let (sink_a, mut rx_a) = sink();
    let (sink_b, mut rx_b) = sink();
    let (a, offer) = RtcPeer::offer(&config(), sink_a).await.expect("offer");
    assert!(offer.starts_with("v=0"), "an SDP offer: {offer}");
    assert!(
        offer.contains("a=candidate"),
        "non-trickle: candidates inside the offer"
    );
    assert!(!offer.contains("a=ice-options:trickle"));
    let (b, answer) = RtcPeer::answer(&config(), &offer, sink_b)
        .await
        .expect("answer");
    a.accept_answer(&answer).await.expect("accept answer");
    assert_eq!(rx_a.next().await, Some(RtcEvent::Open));
    assert_eq!(rx_b.next().await, Some(RtcEvent::Open));
    assert!(a.is_open() && b.is_open());
    ((a, rx_a), (b, rx_b))
}
