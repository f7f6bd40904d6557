//! One simulated WebTorrent peer: a WebSocket that announces with offers on a schedule (or as
//! soon as the previous reply arrived), answers every offer it receives, and times replies.
//!
//! The generator must cost much less than the trackers it measures, so messages are built
//! from pre-escaped pieces (SDPs are generated once per run) and incoming messages are
//! classified by scanning for their keys; the ids an answer must echo are copied as raw JSON
//! tokens. The JSON produced is exactly what `tracker_proto` would produce (a unit test checks
//! that it decodes).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tabswarm_core::rng::Rng;
use tabswarm_core::tracker_proto::{InfoHash, OfferId, PeerId};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::metrics::{Counters, Histogram};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What every peer shares.
pub(crate) struct Plan {
    pub url: String,
    pub offers: usize,
    /// Time between a peer's announces; `None`: next announce right after each reply.
    pub period: Option<Duration>,
    pub counters: Counters,
    pub latency: Histogram,
    /// Latency samples count only inside the measured window.
    pub window: watch::Receiver<bool>,
    /// Turns true once every peer is connected: nobody announces before.
    pub go: watch::Receiver<bool>,
    /// JSON string literals (quotes included) of offer and answer SDPs, made once.
    pub offer_sdps: Vec<String>,
    pub answer_sdps: Vec<String>,
    /// Failure reasons seen (raw JSON strings) and how often.
    pub failures: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

impl Plan {
    /// SDP pools of `n` realistic offers and answers each.
    pub(crate) fn sdp_pools(rng: &mut Rng, n: usize) -> (Vec<String>, Vec<String>) {
        let pool = |rng: &mut Rng, kind: &str| {
            (0..n)
                .map(|_| serde_json::to_string(&sdp(rng, kind)).unwrap_or_default())
                .collect()
        };
        (pool(rng, "offer"), pool(rng, "answer"))
    }
}

pub(crate) async fn connect(url: &str) -> Result<Ws, String> {
    let cfg = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20));
    tokio_tungstenite::connect_async_with_config(url, Some(cfg), true)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

/// Runs one peer on an open socket until `stop` turns true or the socket fails.
pub(crate) async fn run(
    mut ws: Ws,
    plan: Arc<Plan>,
    info_hash: InfoHash,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut rng = Rng::new(seed);
    let mut pid = PeerId::default();
    pid.0[..8].copy_from_slice(b"-LG0001-");
    rng.fill(&mut pid.0[8..]);
    let me = Me {
        info_hash: serde_json::to_string(&info_hash).unwrap_or_default(),
        peer_id: serde_json::to_string(&pid).unwrap_or_default(),
        // A quarter of the peers are seeders (stable per peer, like real ones).
        left: if rng.below(4) == 0 { 0 } else { 1 << 20 },
    };
    let c = &plan.counters;
    let mut pending: VecDeque<Instant> = VecDeque::new();
    let mut go = plan.go.clone();
    tokio::select! {
        _ = async { let _ = go.wait_for(|g| *g).await; } => {}
        _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
    }

    // Peers start at random moments within the first period (at most 5 s), as real ones
    // would, instead of 10 000 `started` announces in the same millisecond.
    let spread = plan
        .period
        .unwrap_or(Duration::from_secs(2))
        .min(Duration::from_secs(5));
    let delay = Duration::from_micros(rng.below(spread.as_micros().try_into().unwrap_or(1)));
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
    }
    let first = announce(&plan, &me, &mut rng, true);
    if ws.send(Message::text(first)).await.is_err() {
        c.conn_errors.fetch_add(1, Ordering::Relaxed);
        return;
    }
    pending.push_back(Instant::now());
    c.announces_sent.fetch_add(1, Ordering::Relaxed);

    let period = plan.period.unwrap_or(Duration::from_secs(3600));
    let mut tick = tokio::time::interval_at(Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    loop {
        let mut again = false;
        tokio::select! {
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
            _ = tick.tick(), if plan.period.is_some() => again = true,
            m = ws.next() => {
                let text = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        if !*stop.borrow() {
                            c.conn_errors.fetch_add(1, Ordering::Relaxed);
                        }
                        return;
                    }
                };
                let t = text.as_str();
                if let Some(reason) = field(t, "\"failure reason\":") {
                    c.failures.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut f) = plan.failures.lock() {
                        if f.len() < 32 {
                            *f.entry(reason.to_owned()).or_default() += 1;
                        } else if let Some(n) = f.get_mut(reason) {
                            *n += 1;
                        }
                    }
                } else if t.contains("\"offer\":") {
                    c.offers.fetch_add(1, Ordering::Relaxed);
                    let Some(reply) = answer_to(&plan, &me, &mut rng, t) else {
                        c.other.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    if ws.send(Message::text(reply)).await.is_err() {
                        c.conn_errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    c.answers_sent.fetch_add(1, Ordering::Relaxed);
                } else if t.contains("\"answer\":") {
                    c.answers.fetch_add(1, Ordering::Relaxed);
                } else if t.contains("\"complete\":") {
                    c.replies.fetch_add(1, Ordering::Relaxed);
                    if let Some(t0) = pending.pop_front() {
                        if *plan.window.borrow() {
                            let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                            plan.latency.record(us);
                            c.max_latency_us.fetch_max(us, Ordering::Relaxed);
                        }
                    }
                    again = plan.period.is_none();
                } else {
                    c.other.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if again {
            let msg = announce(&plan, &me, &mut rng, false);
            if ws.send(Message::text(msg)).await.is_err() {
                c.conn_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
            pending.push_back(Instant::now());
            c.announces_sent.fetch_add(1, Ordering::Relaxed);
        }
    }
    let _ = ws.close(None).await;
}

/// This peer's pre-encoded identity.
pub(crate) struct Me {
    pub info_hash: String,
    pub peer_id: String,
    pub left: u64,
}

/// An announce with `plan.offers` fresh offer ids and pooled SDPs.
pub(crate) fn announce(plan: &Plan, me: &Me, rng: &mut Rng, started: bool) -> String {
    let mut s = String::with_capacity(200 + plan.offers * 620);
    s.push_str("{\"action\":\"announce\",\"info_hash\":");
    s.push_str(&me.info_hash);
    s.push_str(",\"peer_id\":");
    s.push_str(&me.peer_id);
    s.push_str(&format!(
        ",\"numwant\":{},\"uploaded\":0,\"downloaded\":0,\"left\":{}",
        plan.offers, me.left
    ));
    if started {
        s.push_str(",\"event\":\"started\"");
    }
    if plan.offers > 0 {
        s.push_str(",\"offers\":[");
        for i in 0..plan.offers {
            if i > 0 {
                s.push(',');
            }
            let mut id = OfferId::default();
            rng.fill(&mut id.0);
            s.push_str("{\"offer\":{\"type\":\"offer\",\"sdp\":");
            s.push_str(&plan.offer_sdps[rng.index(plan.offer_sdps.len())]);
            s.push_str("},\"offer_id\":");
            s.push_str(&serde_json::to_string(&id).unwrap_or_default());
            s.push('}');
        }
        s.push(']');
    }
    s.push('}');
    s
}

/// The answer to a forwarded offer, echoing its `info_hash`, `peer_id` and `offer_id` tokens.
pub(crate) fn answer_to(plan: &Plan, me: &Me, rng: &mut Rng, offer: &str) -> Option<String> {
    let ih = field(offer, "\"info_hash\":")?;
    let from = field(offer, "\"peer_id\":")?;
    let oid = field(offer, "\"offer_id\":")?;
    let sdp = &plan.answer_sdps[rng.index(plan.answer_sdps.len())];
    let mut s = String::with_capacity(200 + sdp.len());
    s.push_str("{\"action\":\"announce\",\"info_hash\":");
    s.push_str(ih);
    s.push_str(",\"peer_id\":");
    s.push_str(&me.peer_id);
    s.push_str(",\"to_peer_id\":");
    s.push_str(from);
    s.push_str(",\"offer_id\":");
    s.push_str(oid);
    s.push_str(",\"answer\":{\"type\":\"answer\",\"sdp\":");
    s.push_str(sdp);
    s.push_str("}}");
    Some(s)
}

/// The raw JSON string token (quotes included) after the first occurrence of `pat` in `json`.
/// `pat` is the quoted key with its colon, e.g. `"\"peer_id\":"`.
pub(crate) fn field<'a>(json: &'a str, pat: &str) -> Option<&'a str> {
    let at = json.find(pat)? + pat.len();
    let rest = &json[at..];
    let open = rest.find('"')?;
    let bytes = rest.as_bytes();
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return rest.get(open..=i),
            _ => i += 1,
        }
    }
    None
}

/// A Chrome-like data-channel-only SDP (about 500 bytes) with random session id, ICE
/// credentials and host candidate.
fn sdp(rng: &mut Rng, kind: &str) -> String {
    let hex = |rng: &mut Rng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[rng.index(16)]))
            .collect()
    };
    let fp: Vec<String> = (0..32).map(|_| hex(rng, 2).to_uppercase()).collect();
    format!(
        "v=0\r\no=- {} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
         a=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n\
         m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
         a=candidate:{} 1 udp 2113937151 {}.local {} typ host generation 0 network-cost 999\r\n\
         a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=fingerprint:sha-256 {}\r\na=setup:{}\r\n\
         a=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n",
        rng.below(1 << 62),
        rng.below(1 << 32),
        hex(rng, 36),
        49152 + rng.below(16384),
        hex(rng, 4),
        hex(rng, 24),
        fp.join(":"),
        if kind == "offer" { "actpass" } else { "active" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabswarm_core::tracker_proto::*;

    fn plan() -> Plan {
        let mut rng = Rng::new(3);
        let (offer_sdps, answer_sdps) = Plan::sdp_pools(&mut rng, 4);
        Plan {
            url: String::new(),
            offers: 5,
            period: None,
            counters: Counters::default(),
            latency: Histogram::new(),
            window: watch::channel(false).1,
            go: watch::channel(false).1,
            offer_sdps,
            answer_sdps,
            failures: Default::default(),
        }
    }

    #[test]
    fn built_messages_decode_as_the_protocol_says() {
        let plan = plan();
        let mut rng = Rng::new(9);
        let ih = InfoHash([0x22; 20]);
        let mut pid = PeerId([0; 20]);
        pid.0[0] = b'"';
        pid.0[1] = 0xff;
        let me = Me {
            info_hash: serde_json::to_string(&ih).unwrap(),
            peer_id: serde_json::to_string(&pid).unwrap(),
            left: 0,
        };
        let a = announce(&plan, &me, &mut rng, true);
        let ClientMessage::Announce(req) = ClientMessage::from_json(a.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!((req.info_hash, req.peer_id, req.left), (ih, pid, Some(0)));
        assert_eq!(req.event, Some(Event::Started));
        assert_eq!(req.offers.len(), 5);
        let sizes: Vec<usize> = req.offers.iter().map(|o| o.offer.sdp.len()).collect();
        assert!(sizes.iter().all(|&n| (450..650).contains(&n)), "{sizes:?}");

        // Answer a forwarded offer whose ids need escaping.
        let offerer = PeerId([b'\\'; 20]);
        let fwd = TrackerMessage::Offer(OfferForward {
            info_hash: ih,
            peer_id: offerer,
            offer_id: req.offers[2].offer_id,
            offer: req.offers[2].offer.clone(),
        })
        .to_json();
        let ans = answer_to(&plan, &me, &mut rng, &fwd).unwrap();
        let ClientMessage::Announce(r) = ClientMessage::from_json(ans.as_bytes()).unwrap() else {
            panic!()
        };
        let a = r.answer.unwrap();
        assert_eq!((r.info_hash, r.peer_id), (ih, pid));
        assert_eq!(
            (a.to_peer_id, a.offer_id),
            (offerer, req.offers[2].offer_id)
        );
        assert_eq!(a.answer.kind, SdpType::Answer);
        assert_eq!(
            field(
                r#"{"failure reason":"a \"b\"","x":1}"#,
                "\"failure reason\":"
            ),
            Some(r#""a \"b\"""#)
        );
    }
}
