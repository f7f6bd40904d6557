//! tabswarm's tracker: a WebSocket tracker speaking the WebTorrent tracker protocol, and the
//! static file server for the page, on one port.
//!
//! - `GET /` (no upgrade), `/www/...`, `/pkg/...`: files from the static directory.
//! - WebSocket upgrade at `/` or `/announce`: the tracker (JSON messages of
//!   [`tabswarm_core::tracker_proto`]).
//! - `GET /stats`: JSON counts ([`Stats`]).
//!
//! The swarm rules live in [`swarm`], free of IO (state, rng, time and an output `Vec` in, no
//! sockets). `conn.rs` runs one task per WebSocket: it reads frames ([`ws::Reader`]), decodes
//! them, locks the swarm briefly, and after unlocking serializes each output once and queues
//! it on its target's [`ws::Writer`]; each connection's task writes what is queued for it in
//! one syscall. hyper serves HTTP/1 on each accepted TCP stream; an upgrade to WebSocket
//! hands the raw stream to the tracker.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = tabswarm_tracker::serve(listener, tabswarm_tracker::Config::default())?;
//! println!("ws://{}/announce", server.local_addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod config;
mod conn;
mod http;
pub mod swarm;
pub mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use tabswarm_core::time::Time;

pub use config::{Config, ConfigError};
pub use swarm::{ConnId, SwarmConfig, SwarmError};

/// A snapshot for `GET /stats`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub torrents: u64,
    pub peers: u64,
    pub seeders: u64,
    pub leechers: u64,
    /// Open WebSocket connections.
    pub connections: u64,
    /// Incoming plus outgoing messages per second, over the last second.
    pub messages_per_sec: f64,
    pub messages_in_per_sec: f64,
    pub messages_out_per_sec: f64,
    pub messages_in_total: u64,
    pub messages_out_total: u64,
    /// Messages for slow connections dropped because their backlog was full.
    pub messages_dropped_total: u64,
    pub uptime_secs: f64,
}

/// A running server. Dropping it leaves the server running until the runtime ends; call
/// [`ServerHandle::shutdown`] to stop it.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown_tx: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    alive_rx: mpsc::Receiver<()>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops accepting, closes every WebSocket with a close frame and waits (at most 5 s) for
    /// the connection tasks to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        drop(self.shared.alive.lock().map(|mut a| a.take()));
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let _ = (&mut self.server).await;
            while self.alive_rx.recv().await.is_some() {}
        })
        .await;
        tracing::info!("tracker stopped");
    }
}

/// Starts the server on `listener` in the current tokio runtime.
pub fn serve(listener: TcpListener, config: Config) -> std::io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let seed = config.seed.unwrap_or_else(clock_seed);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (alive_tx, alive_rx) = mpsc::channel(1);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            swarm: swarm::Swarm::new(config.swarm.clone(), seed),
            senders: HashMap::new(),
        }),
        config,
        start: Instant::now(),
        next_conn: AtomicU64::new(1),
        msgs_in: AtomicU64::new(0),
        msgs_out: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        open: AtomicU64::new(0),
        rates: Mutex::new((0.0, 0.0)),
        shutdown: shutdown_rx.clone(),
        alive: Mutex::new(Some(alive_tx)),
    });
    tracing::info!(%addr, seed, "tracker listening");
    let app = http::router(shared.clone());
    let server = tokio::spawn(accept_loop(listener, app, shutdown_rx.clone()));
    tokio::spawn(maintenance(shared.clone(), shutdown_rx));
    Ok(ServerHandle {
        addr,
        shared,
        shutdown_tx,
        server,
        alive_rx,
    })
}

/// State shared by the connection tasks.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) state: Mutex<State>,
    start: Instant,
    pub(crate) next_conn: AtomicU64,
    pub(crate) msgs_in: AtomicU64,
    pub(crate) msgs_out: AtomicU64,
    pub(crate) dropped: AtomicU64,
    /// Open WebSocket connections.
    pub(crate) open: AtomicU64,
    /// (in, out) messages per second over the last second.
    rates: Mutex<(f64, f64)>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Cloned by each connection task; taken at shutdown so the handle can wait for them.
    pub(crate) alive: Mutex<Option<mpsc::Sender<()>>>,
}

/// What the mutex guards: the swarm and the queues to each connection.
pub(crate) struct State {
    pub(crate) swarm: swarm::Swarm,
    pub(crate) senders: HashMap<ConnId, Arc<ws::Writer>>,
}

impl Shared {
    pub(crate) fn now(&self) -> Time {
        Time::from_micros(u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    /// Locks the state; a panic while holding it cannot leave the swarm half-updated in a
    /// way that matters more than stopping, so a poisoned lock is taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn stats(&self) -> Stats {
        let s = self.lock().swarm.stats();
        let (rin, rout) = *self.rates.lock().unwrap_or_else(|p| p.into_inner());
        Stats {
            torrents: s.torrents,
            peers: s.peers,
            seeders: s.seeders,
            leechers: s.leechers,
            connections: self.open.load(Ordering::Relaxed),
            messages_per_sec: rin + rout,
            messages_in_per_sec: rin,
            messages_out_per_sec: rout,
            messages_in_total: self.msgs_in.load(Ordering::Relaxed),
            messages_out_total: self.msgs_out.load(Ordering::Relaxed),
            messages_dropped_total: self.dropped.load(Ordering::Relaxed),
            uptime_secs: self.start.elapsed().as_secs_f64(),
        }
    }
}

/// Accepts TCP connections and runs hyper's HTTP/1 on each (with upgrades), until shutdown.
///
/// hyper runs directly on the `TcpStream` (not behind axum::serve's protocol sniffing) so an
/// upgraded connection can be turned back into the `TcpStream` the tracker writes to.
async fn accept_loop(listener: TcpListener, app: axum::Router, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
            a = listener.accept() => a,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Signalling messages are small and latency-bound: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
                }
            }
        });
    }
}

/// Once a second: message rates. Every `cleanup_interval`: expiry sweep and a summary log.
async fn maintenance(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let sweep_every = shared
        .config
        .cleanup_interval
        .min(Duration::from_secs(3600));
    let mut tick = tokio::time::interval(sweep_every.min(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (Instant::now(), 0u64, 0u64);
    let mut last_sweep = Instant::now();
    loop {
        tokio::select! {
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let dt = now.duration_since(last.0).as_secs_f64();
        if dt >= 0.999 {
            let (i, o) = (
                shared.msgs_in.load(Ordering::Relaxed),
                shared.msgs_out.load(Ordering::Relaxed),
            );
            if let Ok(mut r) = shared.rates.lock() {
                *r = ((i - last.1) as f64 / dt, (o - last.2) as f64 / dt);
            }
            last = (now, i, o);
        }
        if now.duration_since(last_sweep) >= sweep_every {
            last_sweep = now;
            let t = shared.now();
            let gone = shared.lock().swarm.expire(t);
            let s = shared.stats();
            tracing::info!(
                torrents = s.torrents,
                peers = s.peers,
                seeders = s.seeders,
                connections = s.connections,
                in_per_sec = s.messages_in_per_sec.round(),
                out_per_sec = s.messages_out_per_sec.round(),
                expired_peers = gone.peers,
                expired_offers = gone.offers,
                "sweep"
            );
        }
    }
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() ^ u64::from(d.subsec_nanos()).rotate_left(32))
        .unwrap_or(0x5EED)
        ^ u64::from(std::process::id())
}
