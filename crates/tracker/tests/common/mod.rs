//! Test helpers: a tracker on 127.0.0.1 port 0 and real WebSocket clients.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tabswarm_core::tracker_proto::*;
use tabswarm_tracker::{serve, Config, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a message it expects.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

pub(crate) async fn start(config: Config) -> ServerHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(
        listener,
        Config {
            seed: Some(1),
            ..config
        },
    )
    .unwrap()
}

pub(crate) fn ih(b: u8) -> InfoHash {
    InfoHash([b; 20])
}
pub(crate) fn pid(b: u8) -> PeerId {
    PeerId([b; 20])
}
pub(crate) fn oid(b: u8) -> OfferId {
    OfferId([b; 20])
}

pub(crate) fn sdp(kind: SdpType, tag: &str) -> Sdp {
    Sdp {
        kind,
        sdp: format!("v=0\r\no=- {tag} 2 IN IP4 127.0.0.1\r\ns=-\r\n"),
    }
}

pub(crate) fn announce(
    t: u8,
    p: u8,
    left: u64,
    event: Option<Event>,
    offer_ids: &[u8],
) -> ClientMessage {
    let mut a = AnnounceRequest::new(ih(t), pid(p));
    a.left = Some(left);
    a.event = event;
    a.numwant = Some(u32::try_from(offer_ids.len()).unwrap());
    a.offers = offer_ids
        .iter()
        .map(|&o| Offer {
            offer: sdp(SdpType::Offer, &format!("p{p}o{o}")),
            offer_id: oid(o),
        })
        .collect();
    ClientMessage::Announce(a)
}

pub(crate) fn answer(t: u8, from: u8, to: u8, offer_id: OfferId) -> ClientMessage {
    let mut a = AnnounceRequest::new(ih(t), pid(from));
    a.answer = Some(Answer {
        to_peer_id: pid(to),
        offer_id,
        answer: sdp(SdpType::Answer, &format!("a{from}")),
    });
    ClientMessage::Announce(a)
}

pub(crate) struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Client {
        Client::connect_path(addr, "/announce").await
    }

    pub(crate) async fn connect_path(addr: SocketAddr, path: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
            .await
            .unwrap();
        Client { ws }
    }

    pub(crate) async fn send(&mut self, m: &ClientMessage) {
        self.send_text(&m.to_json()).await;
    }

    pub(crate) async fn send_text(&mut self, s: &str) {
        self.ws.send(Message::text(s)).await.unwrap();
    }

    /// The next message, or `None` when the connection closed.
    pub(crate) async fn next_raw(&mut self, wait: Duration) -> Option<Message> {
        match tokio::time::timeout(wait, self.ws.next()).await {
            Err(_) => panic!("no message within {wait:?}"),
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => None,
            Ok(Some(Ok(m))) => Some(m),
        }
    }

    pub(crate) async fn recv(&mut self) -> TrackerMessage {
        loop {
            match self.next_raw(WAIT).await {
                Some(Message::Text(t)) => return TrackerMessage::from_json(t.as_bytes()).unwrap(),
                Some(Message::Ping(_) | Message::Pong(_)) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// Expects a failure reply whose reason contains `needle`; returns it.
    pub(crate) async fn recv_failure(&mut self, needle: &str) -> Failure {
        match self.recv().await {
            TrackerMessage::Failure(f) => {
                assert!(
                    f.reason.contains(needle),
                    "reason {:?} lacks {needle:?}",
                    f.reason
                );
                f
            }
            other => panic!("expected failure with {needle:?}, got {other:?}"),
        }
    }

    /// Asserts that nothing arrives for `ms` milliseconds.
    pub(crate) async fn expect_silence(&mut self, ms: u64) {
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(ms), self.ws.next()).await {
            panic!("expected silence, got {m:?}");
        }
    }

    /// Waits until the server closes the connection (within `wait`), skipping other messages.
    pub(crate) async fn expect_closed(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => panic!("connection still open after {wait:?}"),
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// A plain HTTP/1.1 GET; returns (status line, headers text, body).
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> (String, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    (
        status.to_owned(),
        headers.to_ascii_lowercase(),
        buf[split + 4..].to_vec(),
    )
}
