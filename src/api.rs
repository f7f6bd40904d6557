//! The vocabulary of the JS API, each word defined once: the torrent events, the error codes
//! and the TypeScript declarations of the plain objects that cross the boundary (options,
//! [`PeerInfo`], the stats snapshot). Each table below yields both the Rust enum and its part of
//! `pkg/tabswarm.d.ts`, so the two cannot drift apart.

use std::fmt;

use wasm_bindgen::prelude::*;

use crate::js::set;

/// Declares the torrent events: the Rust enum and the d.ts `TorrentEventMap` (event name to the
/// type of its listener's argument).
macro_rules! torrent_events {
    ($($(#[doc = $doc:literal])+ $variant:ident = $name:literal: $ts:literal,)*) => {
        /// An event a `Torrent` emits (`t.on(name, listener)`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum TorrentEvent {
            $($(#[doc = $doc])+ $variant,)*
        }

        impl TorrentEvent {
            /// Every event, in declaration order.
            pub const ALL: &'static [TorrentEvent] = &[$(TorrentEvent::$variant,)*];

            /// The JS name.
            pub fn name(self) -> &'static str {
                match self {
                    $(TorrentEvent::$variant => $name,)*
                }
            }
        }

        #[wasm_bindgen(typescript_custom_section)]
        const TS_TORRENT_EVENTS: &str = concat!(
            "/** The events of a `Torrent`: each name with the argument its listeners get. */\n",
            "export interface TorrentEventMap {\n",
            $("  /**", $($doc, "\n   *",)+ "/\n  \"", $name, "\": ", $ts, ";\n",)*
            "}\n",
        );
    };
}

torrent_events! {
    /// The metadata of a magnet link arrived from a peer: `name`, `length` and `files` are
    /// known from now on.
    Metadata = "metadata": "undefined",
    /// The metadata is known: after `metadata` for a magnet link, and just after `seed()` or
    /// `add()` resolves for content or a `.torrent` file.
    Ready = "ready": "undefined",
    /// A piece was verified (its index).
    Piece = "piece": "number",
    /// The verified fraction changed (0 to 1).
    Progress = "progress": "number",
    /// Verified bytes since the last `download` event (batched: at most one event per batch
    /// of work the torrent handles; the sum equals `downloaded`).
    Download = "download": "number",
    /// Block bytes sent since the last `upload` event (batched like `download`; the sum
    /// equals `uploaded`).
    Upload = "upload": "number",
    /// Every piece is verified (not emitted by a torrent that starts complete).
    Done = "done": "undefined",
    /// A peer connected and completed its handshakes.
    Wire = "wire": "PeerInfo",
    /// A peer that had been announced by `wire` disconnected.
    PeerLeft = "peer-left": "PeerInfo",
    /// A tracker answered an announce and no peer is connected.
    NoPeers = "noPeers": "\"tracker\"",
    /// Something went wrong but the torrent carries on (for example a tracker warning).
    Warning = "warning": "TabswarmError",
    /// A failure the user should hear about; the torrent carries on (it retries).
    Error = "error": "TabswarmError",
}

impl TorrentEvent {
    /// The event called `name`.
    pub fn from_name(name: &str) -> Option<TorrentEvent> {
        TorrentEvent::ALL.iter().copied().find(|e| e.name() == name)
    }
}

/// Declares the error codes: the Rust enum and the d.ts `ErrorCode` union.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $code:literal,)*) => {
        /// The stable `code` of every `Error` the package throws, rejects with or emits.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The JS `code`, `ERR_…`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }

        #[wasm_bindgen(typescript_custom_section)]
        const TS_ERROR_CODES: &str = concat!(
            "/** The `code` of a `TabswarmError` (listed in the package README). */\n",
            "export type ErrorCode =\n",
            $("  | \"", $code, "\"\n",)*
            "  ;\n",
        );
    };
}

error_codes! {
    /// An option has the wrong type or value (`Client`, `seed`, `setLimits`).
    InvalidOption = "ERR_INVALID_OPTION",
    /// `seed()` or `add()` was given a value of a type it does not take, nothing to seed, or a
    /// file path that is not a safe relative path.
    BadInput = "ERR_BAD_INPUT",
    /// `add()`: not a magnet link or info hash.
    BadMagnet = "ERR_BAD_MAGNET",
    /// `add()`: not a valid `.torrent` file.
    BadTorrent = "ERR_BAD_TORRENT",
    /// `seed()` or `add()`: a file or blob could not be read or hashed.
    ReadFailed = "ERR_READ_FAILED",
    /// `on`, `once`, `off`: not an event of `TorrentEventMap`.
    UnknownEvent = "ERR_UNKNOWN_EVENT",
    /// `done()` or `blob()` of a torrent destroyed first.
    Destroyed = "ERR_DESTROYED",
    /// `blob()` of a torrent with several files (use `files[i].blob()`).
    MultipleFiles = "ERR_MULTIPLE_FILES",
    /// A tracker URL is not a `ws://` or `wss://` URL; that tracker is not used.
    TrackerBadUrl = "ERR_TRACKER_BAD_URL",
    /// A tracker cannot be reached or closed the connection; it is retried with backoff.
    TrackerUnreachable = "ERR_TRACKER_UNREACHABLE",
    /// A tracker answered with a `failure reason`.
    TrackerRefused = "ERR_TRACKER_REFUSED",
    /// A tracker answered with a `warning message` (a `warning` event).
    TrackerWarning = "ERR_TRACKER_WARNING",
    /// A tracker message could not be read and was ignored (a `warning` event).
    TrackerMalformed = "ERR_TRACKER_MALFORMED",
    /// More trackers than the client uses; the rest are ignored (a `warning` event).
    TooManyTrackers = "ERR_TOO_MANY_TRACKERS",
    /// A piece failed its SHA-1 check and is fetched again.
    HashFailed = "ERR_HASH_FAILED",
    /// A peer sent pieces that failed their check too often and is banned for good.
    PeerBanned = "ERR_PEER_BANNED",
    /// A peer broke a protocol rule and was disconnected (a `warning` event).
    PeerDropped = "ERR_PEER_DROPPED",
    /// The browser's storage (OPFS) is full.
    StorageQuota = "ERR_STORAGE_QUOTA",
    /// Storing or reading pieces failed otherwise.
    Storage = "ERR_STORAGE",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure for the page: a JS `Error` with a `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: ErrorCode,
    /// For people; it may change between versions, the code does not.
    pub message: String,
}

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A storage failure from a thrown JS value: [`ErrorCode::StorageQuota`] for the
    /// browser's `QuotaExceededError`, else [`ErrorCode::Storage`].
    pub fn storage(e: &JsValue) -> Failure {
        let quota = crate::js::prop(e, "name").as_string().as_deref() == Some("QuotaExceededError");
        let code = if quota {
            ErrorCode::StorageQuota
        } else {
            ErrorCode::Storage
        };
        Failure::new(code, crate::js::error_text(e))
    }

    /// The JS `Error` (`message`, `code`).
    pub fn to_js(&self) -> JsValue {
        let e = js_sys::Error::new(&self.message);
        set(&e, "code", &self.code.as_str().into());
        e.into()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Failure> for JsValue {
    fn from(f: Failure) -> JsValue {
        f.to_js()
    }
}

/// A peer, as `wire` and `peer-left` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its peer id, 40 hex digits.
    pub id: String,
    pub client: Option<String>,
}

impl PeerInfo {
    pub fn to_js(&self) -> JsValue {
        let o = js_sys::Object::new();
        set(&o, "id", &self.id.as_str().into());
        set(
            &o,
            "client",
            &self
                .client
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from_str),
        );
        o.into()
    }
}

// The objects the API takes and returns. `Torrent.stats()` (lib.rs) and `Torrent.peers()` build
// `TorrentStats` and `PeerStats` with exactly these keys; the listener methods are typed here
// by the event map (the class and this interface merge).
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** `new Client(opts)`. */
export interface ClientOptions {
  /** Tracker URLs (`ws://` or `wss://`) used for every torrent. */
  announce?: string | string[];
  /** The `RTCPeerConnection` ICE servers (default: WebTorrent's STUN servers; `[]` offline). */
  iceServers?: RTCIceServer[];
  /** Where torrents keep their pieces. `"auto"` (the default) and `"opfs"`: in the library in
   * OPFS, kept across reloads and browser restarts (`client.restore()` brings them back);
   * `"auto"` falls back to memory where the browser has no OPFS, `"opfs"` throws there.
   * `"memory"`: nothing is kept. A torrent another tab of this site runs is not kept twice: it
   * runs in memory up to 128 MiB (temporary OPFS files above). */
  storage?: "auto" | "memory" | "opfs";
  /** The largest data-channel message sent, in bytes, 16384 to 262144 (default 131072):
   * smaller than a peer advertises where its stack fails on large messages. */
  maxMessageSize?: number;
}

/** A file of a folder: its path in the torrent is `fullPath` (WebTorrent's convention, set by
 * drag-drop and www/folder.js: `"/folder/sub/a.txt"`), else `webkitRelativePath`
 * (`<input webkitdirectory>`: `"folder/sub/a.txt"`), else `name`. Segments are `/`-separated;
 * empty, `.` or `..` segments, a NUL, a backslash, a drive (`C:`), over 64 segments or 4096 bytes:
 * `ERR_BAD_INPUT`. */
export type SeedFile = (File | Blob) & { fullPath?: string };

/** What `seed()` takes: one or more files, or bytes. Several files are laid out as WebTorrent
 * does: a folder common to every path becomes the torrent's name, files keep the order given,
 * junk files (`.DS_Store`, ...) are left out. */
export type SeedInput = SeedFile | FileList | Array<SeedFile> | Uint8Array | ArrayBuffer;

/** `client.seed(input, opts)`. */
export interface SeedOptions {
  /** The torrent's name (default: the single file's name, else `"data"`). */
  name?: string;
  /** Bytes per piece, a power of two (default: chosen from the size). */
  pieceLength?: number;
  /** More tracker URLs, tried before the client's. */
  announce?: string | string[];
  /** Called with the fraction hashed so far. */
  onProgress?: (fraction: number) => void;
  /** BEP 16 initial seeding: reveal pieces a few at a time so that a lone first seed uploads
   * each piece about once. */
  superSeed?: boolean;
  /** Keep a copy in the library so the torrent seeds again after a reload (default: when the
   * content takes at most half of the site's free storage). */
  keep?: boolean;
}

/** `torrent.destroy(opts)`. */
export interface DestroyOptions {
  /** Keep the torrent's pieces (it is no longer listed, and adding it again resumes from
   * them); by default they are deleted. */
  keepData?: boolean;
}

/** `client.storageEstimate()`: this site's storage, in bytes. */
export interface StorageInfo {
  usage: number;
  quota: number;
  /** Whether the browser keeps it under storage pressure (`client.persist()`). */
  persisted: boolean;
}

/** What `add()` takes: a magnet link, a bare info hash (hex or base32), or `.torrent` bytes. */
export type TorrentId = string | Uint8Array | ArrayBuffer | Blob;

/** `client.add(torrentId, opts)`. */
export interface AddOptions {
  /** More tracker URLs, tried before those of the magnet link or `.torrent` file. */
  announce?: string | string[];
}

/** Rate caps in bytes/s; `0`, `null` or absent: unlimited. */
export interface Limits {
  upload?: number | null;
  download?: number | null;
}

/** An `Error` from this package, with a stable `code`. */
export interface TabswarmError extends Error {
  readonly code: ErrorCode;
}

/** A peer, as `wire` and `peer-left` report it. */
export interface PeerInfo {
  /** Its peer id, 40 hex digits. */
  id: string;
  /** Its client's name, if it said or its peer id tells. */
  client: string | null;
}

/** One connected peer and its figures (`torrent.peers()`). */
export interface PeerStats {
  /** Its peer id (40 hex digits), `null` before its handshake. */
  id: string | null;
  client: string | null;
  /** Bytes/s of blocks from it and to it. */
  downloadSpeed: number;
  uploadSpeed: number;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
  /** The fraction of pieces it has. */
  progress: number;
  /** Our requests outstanding at it, and its requests queued at us. */
  requestsOut: number;
  requestsIn: number;
  /** Bytes queued in its data channel. */
  buffered: number;
}

/** Every figure of a torrent at one moment (`torrent.stats()`). */
export interface TorrentStats {
  /** Verified fraction, 0 to 1. */
  progress: number;
  /** True once every piece is verified. */
  done: boolean;
  /** Total bytes (0 until the metadata is known). */
  length: number;
  /** Verified pieces, and all of them (0 until the metadata is known). */
  piecesHave: number;
  pieces: number;
  /** Verified bytes downloaded in this session. */
  downloaded: number;
  /** Block bytes sent to peers. */
  uploaded: number;
  /** Every byte received over the data channels. */
  received: number;
  /** Block bytes received that we already had or never asked for. */
  wasted: number;
  /** Bytes/s of blocks received and sent, over the engine's rate window. */
  downloadSpeed: number;
  uploadSpeed: number;
  /** Milliseconds to done at the current download speed (`Infinity` without one, 0 when done). */
  timeRemaining: number;
  /** Connected peers. */
  numPeers: number;
}

export interface Torrent {
  /** Calls `listener` on every `event`. */
  on<K extends keyof TorrentEventMap>(event: K, listener: (arg: TorrentEventMap[K]) => void): void;
  /** Calls `listener` on the next `event` only. */
  once<K extends keyof TorrentEventMap>(event: K, listener: (arg: TorrentEventMap[K]) => void): void;
  /** Removes `listener` (added with `on` or `once`) from `event`. */
  off<K extends keyof TorrentEventMap>(event: K, listener: (arg: TorrentEventMap[K]) => void): void;
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_and_error_codes_are_unique() {
        for (i, e) in TorrentEvent::ALL.iter().enumerate() {
            assert_eq!(TorrentEvent::from_name(e.name()), Some(*e));
            assert!(TorrentEvent::ALL[..i].iter().all(|o| o.name() != e.name()));
        }
        assert_eq!(TorrentEvent::from_name("peer"), None);
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert!(c.as_str().starts_with("ERR_"), "{c}");
            assert!(ErrorCode::ALL[..i].iter().all(|o| o.as_str() != c.as_str()));
        }
    }

    /// The README is where users look codes and events up: it must list each one.
    #[test]
    fn the_readme_lists_every_error_code_and_event() {
        let readme = include_str!("../README.md");
        for c in ErrorCode::ALL {
            assert!(readme.contains(&format!("`{c}`")), "README lacks {c}");
        }
        for e in TorrentEvent::ALL {
            assert!(
                readme.contains(&format!("`{}`", e.name())),
                "README lacks {}",
                e.name()
            );
        }
    }
}
