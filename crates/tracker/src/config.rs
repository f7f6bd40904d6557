//! Server configuration: defaults, `TABSWARM_*` environment variables and `key = value` files.
//!
//! Every setting has one key; the environment variable is `TABSWARM_` + the key in upper case
//! (`interval_secs` -> `TABSWARM_INTERVAL_SECS`). A config file holds `key = value` lines,
//! `#` starts a comment. Precedence: defaults, then the file, then the environment, then the
//! command-line flags `--listen` and `--static-dir`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::swarm::SwarmConfig;

/// Everything the server needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `listen`: the address `main` binds (tests pass their own listener).
    pub listen: SocketAddr,
    /// `static_dir`: served over HTTP GET (index.html, www/, pkg/). `None`: no static files.
    pub static_dir: Option<PathBuf>,
    /// The swarm rules (`interval_secs`, `peer_timeout_secs`, `offer_timeout_secs`,
    /// `max_offers`, `max_torrents_per_conn`, `max_scrape`, `max_pending_offers`).
    pub swarm: SwarmConfig,
    /// `idle_timeout_secs`: a connection with no incoming message for this long is closed.
    pub idle_timeout: Duration,
    /// `max_message_bytes`: a larger WebSocket message closes the connection.
    pub max_message_bytes: usize,
    /// `rate_per_sec`: sustained messages per second allowed per connection.
    pub rate_per_sec: f64,
    /// `rate_burst`: messages a connection may send at once before the rate applies.
    pub rate_burst: f64,
    /// `max_connections`: further WebSocket upgrades are refused with 503.
    pub max_connections: usize,
    /// `max_backlog_bytes`: bytes waiting for a connection that does not read fast enough;
    /// further messages to it are dropped (and the connection closed if its own reply is).
    pub max_backlog_bytes: usize,
    /// `cleanup_interval_secs`: how often expired peers and offers are swept.
    pub cleanup_interval: Duration,
    /// `seed`: the swarm's random seed; `None` derives one from the clock at start.
    pub seed: Option<u64>,
    /// `threads`: worker threads of the binary's runtime (0: one per core). The default, 1,
    /// is tokio's current-thread runtime: a message queued for a connection then waits for
    /// the tasks already runnable, so messages that pile up for one socket share a write,
    /// and no cross-thread wake-ups are needed (see DESIGN.md, "The tracker"). More threads
    /// only pay off when one core is not enough. [`crate::serve`] runs on whatever runtime
    /// it is called in.
    pub threads: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            static_dir: None,
            swarm: SwarmConfig::default(),
            idle_timeout: Duration::from_secs(180),
            max_message_bytes: 64 * 1024,
            rate_per_sec: 20.0,
            rate_burst: 60.0,
            max_connections: 50_000,
            max_backlog_bytes: 64 * 1024,
            cleanup_interval: Duration::from_secs(30),
            seed: None,
            threads: 1,
        }
    }
}

/// A bad setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The key is not a setting.
    UnknownKey(String),
    /// The value does not parse for that key (or is zero where zero makes no sense).
    BadValue { key: String, value: String },
    /// A config file line is not `key = value`.
    BadLine { line: usize },
    /// The config file cannot be read.
    Io(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownKey(k) => write!(f, "unknown setting `{k}`"),
            ConfigError::BadValue { key, value } => write!(f, "bad value `{value}` for `{key}`"),
            ConfigError::BadLine { line } => write!(f, "line {line}: expected `key = value`"),
            ConfigError::Io(e) => write!(f, "cannot read config file: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// All keys, for `--help` and the environment scan.
pub const KEYS: &[&str] = &[
    "listen",
    "static_dir",
    "interval_secs",
    "peer_timeout_secs",
    "offer_timeout_secs",
    "max_offers",
    "max_torrents_per_conn",
    "max_scrape",
    "max_pending_offers",
    "idle_timeout_secs",
    "max_message_bytes",
    "rate_per_sec",
    "rate_burst",
    "max_connections",
    "max_backlog_bytes",
    "cleanup_interval_secs",
    "seed",
    "threads",
];

impl Config {
    /// Sets one key from its text value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let v = value.trim();
        let bad = || ConfigError::BadValue {
            key: key.to_owned(),
            value: v.to_owned(),
        };
        let count = || v.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(bad);
        let secs = || {
            v.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
                .map(Duration::from_secs_f64)
                .ok_or_else(bad)
        };
        let rate = || {
            v.parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(bad)
        };
        match key {
            "listen" => self.listen = v.parse().map_err(|_| bad())?,
            "static_dir" => self.static_dir = Some(PathBuf::from(v)),
            "interval_secs" => {
                self.swarm.interval_secs = v.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?
            }
            "peer_timeout_secs" => self.swarm.peer_timeout = secs()?,
            "offer_timeout_secs" => self.swarm.offer_timeout = secs()?,
            "max_offers" => self.swarm.max_offers = count()?,
            "max_torrents_per_conn" => self.swarm.max_torrents_per_conn = count()?,
            "max_scrape" => self.swarm.max_scrape = count()?,
            "max_pending_offers" => self.swarm.max_pending_offers = count()?,
            "idle_timeout_secs" => self.idle_timeout = secs()?,
            "max_message_bytes" => self.max_message_bytes = count()?,
            "rate_per_sec" => self.rate_per_sec = rate()?,
            "rate_burst" => self.rate_burst = rate()?.max(1.0),
            "max_connections" => self.max_connections = count()?,
            "max_backlog_bytes" => self.max_backlog_bytes = count()?,
            "cleanup_interval_secs" => self.cleanup_interval = secs()?,
            "seed" => self.seed = Some(v.parse().map_err(|_| bad())?),
            "threads" => self.threads = v.parse().map_err(|_| bad())?,
            _ => return Err(ConfigError::UnknownKey(key.to_owned())),
        }
        Ok(())
    }

    /// Applies `key = value` lines.
    pub fn apply_file_text(&mut self, text: &str) -> Result<(), ConfigError> {
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or(ConfigError::BadLine { line: n + 1 })?;
            self.set(k.trim(), v.trim().trim_matches('"'))?;
        }
        Ok(())
    }

    /// Reads and applies a config file.
    pub fn apply_file(&mut self, path: &std::path::Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io(e.to_string()))?;
        self.apply_file_text(&text)
    }

    /// Applies `TABSWARM_<KEY>` variables from `vars` (pass `std::env::vars()`).
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("TABSWARM_") else {
                continue;
            };
            let key = rest.to_ascii_lowercase();
            if KEYS.contains(&key.as_str()) {
                self.set(&key, &value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_override_defaults() {
        let mut c = Config::default();
        c.apply_file_text(
            "# tracker\ninterval_secs = 30\nmax_offers=4 # fewer\n\nstatic_dir = \"/srv/www\"\n",
        )
        .unwrap();
        assert_eq!(c.swarm.interval_secs, 30);
        assert_eq!(c.swarm.max_offers, 4);
        assert_eq!(c.static_dir, Some(PathBuf::from("/srv/www")));
        c.apply_env([
            ("TABSWARM_MAX_OFFERS".to_owned(), "7".to_owned()),
            ("TABSWARM_PEER_TIMEOUT_SECS".to_owned(), "0.5".to_owned()),
            ("TABSWARM_NOT_A_KEY".to_owned(), "x".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ])
        .unwrap();
        assert_eq!(c.swarm.max_offers, 7);
        assert_eq!(c.swarm.peer_timeout, Duration::from_millis(500));
    }

    #[test]
    fn bad_settings_are_errors() {
        let mut c = Config::default();
        assert_eq!(
            c.set("max_offers", "0"),
            Err(ConfigError::BadValue {
                key: "max_offers".into(),
                value: "0".into()
            })
        );
        assert!(c.set("idle_timeout_secs", "-1").is_err());
        assert!(c.set("listen", "nowhere").is_err());
        assert_eq!(
            c.set("colour", "red"),
            Err(ConfigError::UnknownKey("colour".into()))
        );
        assert_eq!(
            c.apply_file_text("interval_secs 5"),
            Err(ConfigError::BadLine { line: 1 })
        );
        assert_eq!(c, Config::default());
    }
}
