//! One task per WebSocket connection: read, rate-limit, decode, run the swarm rules under the
//! lock, serialize outside it, queue.
//!
//! Messages for any connection (this one or others) are framed by the task that produced
//! them and appended to the target's [`Writer`]; the target's own task writes all that is
//! queued in one syscall the next time it runs, so messages that pile up for one socket while
//! other tasks run share a write. What the kernel does not take stays queued, up to
//! `max_backlog_bytes` per connection, until the socket is writable again. A client that does
//! not read thus loses messages instead of growing the tracker's memory, and is disconnected
//! when even its own replies no longer fit.

use std::io::ErrorKind;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use tabswarm_core::tracker_proto::{Action, ClientMessage, DecodeError, TrackerMessage};

use crate::swarm::{ConnId, Outgoing};
use crate::ws::{self, Incoming, Reader, Sent, Writer, WsError};
use crate::Shared;

/// Runs one connection until it closes, idles out, misbehaves or the server stops. `pre` is
/// what the HTTP layer had already read past the upgrade request.
pub(crate) async fn run(
    stream: TcpStream,
    pre: &[u8],
    shared: Arc<Shared>,
    alive: mpsc::Sender<()>,
) {
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let stream = Arc::new(stream);
    let writer = Arc::new(Writer::new(stream.clone(), shared.config.max_backlog_bytes));
    {
        let mut st = shared.lock();
        st.swarm.connect(id);
        st.senders.insert(id, writer.clone());
    }
    shared.open.fetch_add(1, Ordering::Relaxed);
    debug!(conn = id, "connection open");
    let mut conn = Conn {
        id,
        stream,
        writer,
        reader: Reader::new(shared.config.max_message_bytes),
        bucket: Bucket::new(shared.config.rate_per_sec, shared.config.rate_burst),
        strikes: 0,
        out: Vec::new(),
        remote: Vec::new(),
        json: Vec::new(),
        shared: shared.clone(),
    };
    conn.reader.buffer().extend_from_slice(pre);
    let why = conn.serve().await;
    conn.writer.close();
    {
        let mut st = shared.lock();
        st.swarm.disconnect(id);
        st.senders.remove(&id);
    }
    shared.open.fetch_sub(1, Ordering::Relaxed);
    debug!(conn = id, reason = why, "connection closed");
    drop(alive);
}

struct Conn {
    id: ConnId,
    stream: Arc<TcpStream>,
    writer: Arc<Writer>,
    reader: Reader,
    bucket: Bucket,
    /// Messages refused in a row by the rate limit.
    strikes: u32,
    /// Scratch lists, kept to avoid reallocating per message.
    out: Vec<Outgoing>,
    remote: Vec<(Arc<Writer>, TrackerMessage)>,
    /// Scratch buffer for serializing one message.
    json: Vec<u8>,
    shared: Arc<Shared>,
}

/// Whether the connection goes on.
enum Step {
    Continue,
    Close(&'static str),
}

impl Conn {
    async fn serve(&mut self) -> &'static str {
        // The idle timer and the shutdown watch are set up once, not per message.
        let idle = self.shared.config.idle_timeout;
        let mut last_rx = Instant::now();
        let sleep = tokio::time::sleep(idle);
        tokio::pin!(sleep);
        let mut shutdown = self.shared.shutdown.clone();
        let stop = async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        tokio::pin!(stop);
        loop {
            if let Step::Close(why) = self.process() {
                let _ = self.writer.flush();
                return why;
            }
            // Everything queued for this connection since the last write (its own replies
            // and what other tasks sent it) goes out in one write.
            if self.writer.flush().is_err() {
                return "write error";
            }
            let backlog = self.writer.has_backlog();
            tokio::select! {
                biased;
                _ = &mut stop => {
                    self.writer.send_close(1001, "tracker shutting down");
                    let _ = self.writer.flush();
                    return "shutdown";
                }
                w = self.stream.writable(), if backlog => {
                    if w.is_err() {
                        return "write error";
                    }
                }
                _ = self.writer.pending.notified(), if !backlog => {}
                r = self.stream.readable() => {
                    if r.is_err() {
                        return "read error";
                    }
                    match self.read() {
                        Ok(Some(0)) => return "closed by peer",
                        Ok(Some(_)) => last_rx = Instant::now(),
                        Ok(None) => {}
                        Err(_) => return "read error",
                    }
                }
                _ = &mut sleep => {
                    let due = last_rx + idle;
                    if Instant::now() < due {
                        sleep.as_mut().reset(due);
                        continue;
                    }
                    self.writer.send_close(1000, "idle");
                    let _ = self.writer.flush();
                    return "idle";
                }
            }
        }
    }

    /// Reads what the socket holds into the frame reader: `Some(0)` at the end of the
    /// stream, `None` when there was nothing after all.
    ///
    /// A read that does not fill the buffer has emptied the socket (a TCP receive takes all
    /// that is queued, up to the buffer's size), so it tells tokio that the socket is no
    /// longer readable, by returning `WouldBlock` from `try_io`, instead of tokio finding out
    /// through a second read that fails: one syscall per incoming message instead of two.
    /// Bytes arriving later raise a new readiness event (epoll is edge-triggered), exactly
    /// as after a read that failed with `WouldBlock`.
    fn read(&mut self) -> std::io::Result<Option<usize>> {
        let buf = self.reader.buffer();
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        let room = buf.capacity() - buf.len();
        let stream = &self.stream;
        let mut drained = None;
        let r = stream.try_io(Interest::READABLE, || {
            let n = stream.try_read_buf(buf)?;
            if n > 0 && n < room {
                drained = Some(n);
                return Err(ErrorKind::WouldBlock.into());
            }
            Ok(n)
        });
        match r {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(drained),
            Err(e) => Err(e),
        }
    }

    /// Handles every complete frame received so far.
    fn process(&mut self) -> Step {
        loop {
            let decoded = match self.reader.next_event() {
                Ok(None) => break,
                Ok(Some(Incoming::Message { payload, .. })) => ClientMessage::from_json(payload),
                Ok(Some(Incoming::Ping(p))) => {
                    self.writer.send_pong(p);
                    continue;
                }
                Ok(Some(Incoming::Pong)) => continue,
                Ok(Some(Incoming::Close(_))) => {
                    self.writer.send_close(1000, "");
                    return Step::Close("close frame");
                }
                Err(e) => return self.protocol_error(&e),
            };
            if let Step::Close(why) = self.on_message(decoded) {
                return Step::Close(why);
            }
        }
        self.reader.compact();
        Step::Continue
    }

    fn protocol_error(&mut self, e: &WsError) -> Step {
        debug!(conn = self.id, error = %e, "closing");
        if let WsError::TooLarge { .. } = e {
            self.send_own(&TrackerMessage::failure(None, None, e.to_string()));
        }
        self.writer.send_close(e.close_code(), "");
        Step::Close(match e {
            WsError::TooLarge { .. } => "message too large",
            WsError::Protocol(_) => "protocol error",
        })
    }

    fn on_message(&mut self, decoded: Result<ClientMessage, DecodeError>) -> Step {
        self.shared.msgs_in.fetch_add(1, Ordering::Relaxed);
        if !self.bucket.take(Instant::now()) {
            self.strikes += 1;
            let (action, info_hash) = match &decoded {
                Ok(ClientMessage::Announce(a)) => (Some(Action::Announce), Some(a.info_hash)),
                Ok(ClientMessage::Scrape(s)) => {
                    (Some(Action::Scrape), s.info_hashes.first().copied())
                }
                Err(e) => (e.action, e.info_hash),
            };
            if !self.send_own(&TrackerMessage::failure(
                action,
                info_hash,
                "rate limit exceeded",
            )) {
                return Step::Close("not reading");
            }
            // A client that keeps flooding after a burst's worth of refusals is cut off.
            if f64::from(self.strikes) > self.shared.config.rate_burst {
                self.writer.send_close(1008, "flood");
                return Step::Close("flood");
            }
            return Step::Continue;
        }
        self.strikes = 0;
        let msg = match decoded {
            Ok(m) => m,
            Err(e) => {
                debug!(conn = self.id, error = %e, "bad message");
                return if self.send_own(&e.to_failure()) {
                    Step::Continue
                } else {
                    Step::Close("not reading")
                };
            }
        };
        let now = self.shared.now();
        let mut mine = 0usize;
        {
            let mut st = self.shared.lock();
            if let Err(e) = st.swarm.handle(self.id, msg, now, &mut self.out) {
                debug!(conn = self.id, error = %e, "refused");
            }
            // Own replies first in `out` order; others get a handle to their writer.
            for o in self.out.drain(..) {
                if o.conn == self.id {
                    self.remote.insert(mine, (self.writer.clone(), o.msg));
                    mine += 1;
                } else if let Some(w) = st.senders.get(&o.conn) {
                    self.remote.push((w.clone(), o.msg));
                }
            }
        }
        let mut ok = true;
        for (i, (w, m)) in self.remote.drain(..).enumerate() {
            self.json.clear();
            self.json.extend_from_slice(&[0; ws::HEADROOM]);
            m.write_json(&mut self.json);
            match w.send_text_framed(&mut self.json) {
                Sent::Ok => {
                    self.shared.msgs_out.fetch_add(1, Ordering::Relaxed);
                }
                Sent::Dropped => {
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                    ok &= i >= mine;
                }
                Sent::Closed => ok &= i >= mine,
            }
        }
        if ok {
            Step::Continue
        } else {
            Step::Close("not reading")
        }
    }

    /// Sends a message to this connection; false when it could not be sent.
    fn send_own(&mut self, msg: &TrackerMessage) -> bool {
        self.json.clear();
        self.json.extend_from_slice(&[0; ws::HEADROOM]);
        msg.write_json(&mut self.json);
        match self.writer.send_text_framed(&mut self.json) {
            Sent::Ok => {
                self.shared.msgs_out.fetch_add(1, Ordering::Relaxed);
                true
            }
            Sent::Dropped => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
            Sent::Closed => false,
        }
    }
}

/// Token bucket: `rate` tokens per second, at most `burst` saved up.
struct Bucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: f64) -> Bucket {
        Bucket {
            tokens: burst,
            rate,
            burst,
            last: Instant::now(),
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + dt.as_secs_f64() * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10.0, 3.0);
        b.last = t0;
        assert!(b.take(t0) && b.take(t0) && b.take(t0));
        assert!(!b.take(t0));
        assert!(!b.take(t0 + Duration::from_millis(50)));
        assert!(b.take(t0 + Duration::from_millis(110)));
        assert!(!b.take(t0 + Duration::from_millis(110)));
        // Long pause refills to the burst only.
        let later = t0 + Duration::from_secs(100);
        assert!((0..3).all(|_| b.take(later)));
        assert!(!b.take(later));
    }
}
