#!/usr/bin/env python3
"""A small libtorrent (2.1, WebTorrent support built in) peer for tabswarm's native interop tests.

Subcommands (every one prints JSON lines on stdout, logs to stderr, and bounds every wait):

  seed FILE --tracker URL [--piece-length N] [--limit S]
      Makes a v1 .torrent of FILE (name = the file's base name) and seeds it through the
      tracker. Prints {"event":"seeding", info_hash, magnet, torrent_hex, ...} once, then
      upload stats every few seconds, until stdin closes or --limit seconds pass.
  download SOURCE --tracker URL [--out DIR] [--stall S] [--limit S]
      SOURCE is a magnet link or a .torrent path. Prints progress lines and, when done, a final
      {"done":true, sha256, bytes, seconds, ...}. Exits nonzero (with a JSON {"done":false,
      "error":...} line) if no byte arrived for --stall seconds or --limit passed. The output dir
      is a temp dir removed at exit unless --out is given. With --keep-seeding S it seeds on
      after done until stdin closes or S seconds pass.
  hash FILE [--piece-length N]
      Prints {"info_hash": ...} of FILE's v1 torrent.
"""
import argparse
import binascii
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import libtorrent as lt  # noqa: E402


def _text(o):
    # libtorrent hands back some peer-supplied strings (a peer's client name) as bytes when
    # they are not valid UTF-8: report them, never crash on them.
    if isinstance(o, (bytes, bytearray)):
        return bytes(o).decode("utf-8", "replace")
    raise TypeError("not JSON serializable: %s" % type(o).__name__)


def out(obj):
    sys.stdout.write(json.dumps(obj, default=_text) + "\n")
    sys.stdout.flush()


def log(msg):
    sys.stderr.write("[lt_peer] %s\n" % msg)
    sys.stderr.flush()


def make_torrent(path, piece_length, tracker=None):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    # v1 only, no file attributes or mtime: the same info dict tabswarm and WebTorrent make.
    flags = lt.create_torrent.v1_only | lt.create_torrent.no_attributes
    ct = lt.create_torrent(fs, piece_length, flags)
    if tracker:
        ct.add_tracker(tracker)
    ct.set_creator("")
    ct.set_creation_date(0)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
    buf = lt.bencode(ct.generate())
    return bytes(buf)


def info_hash_hex(torrent_bytes):
    ti = lt.torrent_info(lt.bdecode(torrent_bytes))
    return str(ti.info_hashes().v1), ti


def new_session():
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # No STUN on loopback: otherwise each offer waits ~23 s for a server reply.
        "webtorrent_stun_server": "",
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.connect_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.tracker_notification
        | lt.alert.category_t.peer_notification
        | lt.alert.category_t.storage_notification,
        "user_agent": "lt_peer (tabswarm tests)",
    }
    if os.environ.get("LT_PEER_LOG_FILE"):
        settings["alert_mask"] |= lt.alert.category_t.torrent_log_notification
    if os.environ.get("LT_PEER_LOG") or os.environ.get("LT_PEER_LOG_FILE"):
        # libtorrent's per-peer log, kept in a ring (RING) and printed when a download stalls.
        settings["alert_mask"] |= lt.alert.category_t.peer_log_notification
    return lt.session(settings)


class StdinWatch:
    """Sets .closed when stdin reaches EOF (the parent test closed it or died)."""

    def __init__(self):
        self.closed = threading.Event()
        t = threading.Thread(target=self._run, daemon=True)
        t.start()

    def _run(self):
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except Exception:
            pass
        self.closed.set()


RING = []
# LT_PEER_LOG_FILE: every alert (with the peer log) appended to this file, for diagnosis, each line
# with its time and this process's pid (the tests' peers share one file).
LOG_FILE = open(os.environ["LT_PEER_LOG_FILE"], "a") if os.environ.get("LT_PEER_LOG_FILE") else None


def drain_alerts(ses, counters):
    for a in ses.pop_alerts():
        cat = a.category()
        name = type(a).__name__
        if LOG_FILE:
            LOG_FILE.write("%.3f %d %s %s\n" % (time.time(), os.getpid(), name, a.message()))
            LOG_FILE.flush()
        if name == "peer_log_alert":
            RING.append("%.3f %s" % (time.time(), a.message()))
            del RING[:-60]
            continue
        if cat & lt.alert.category_t.error_notification:
            counters["errors"] = counters.get("errors", 0) + 1
            log("error alert %s: %s" % (name, a.message()))
        elif name in ("peer_connect_alert", "incoming_connection_alert", "peer_error_alert", "peer_disconnected_alert", "tracker_reply_alert",
                      "tracker_error_alert", "tracker_warning_alert", "torrent_finished_alert",
                      "metadata_received_alert"):
            if os.environ.get("LT_PEER_VERBOSE"):
                log("%s: %s" % (name, a.message()))
            if name == "peer_disconnected_alert":
                counters["disconnects"] = counters.get("disconnects", 0) + 1
            if name == "metadata_received_alert":
                counters["metadata"] = True


def peers_summary(h):
    res = []
    try:
        for p in h.get_peer_info():
            pid = bytes(p.pid.to_bytes()) if hasattr(p.pid, "to_bytes") else b""
            res.append({"client": p.client, "pid": binascii.hexlify(pid).decode()[:16],
                        "down": p.total_download, "up": p.total_upload})
    except Exception as e:  # peer info is diagnostic only
        res.append({"error": str(e)})
    return res


def cmd_seed(args):
    path = os.path.abspath(args.file)
    t_start = time.time()
    torrent = make_torrent(path, args.piece_length, args.tracker)
    ih, ti = info_hash_hex(torrent)
    ses = new_session()
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = os.path.dirname(path)
    atp.flags = (atp.flags | lt.torrent_flags.seed_mode) & ~lt.torrent_flags.auto_managed \
        & ~lt.torrent_flags.paused
    atp.trackers = [args.tracker]
    h = ses.add_torrent(atp)
    name = ti.name()
    magnet = "magnet:?xt=urn:btih:%s&dn=%s&tr=%s" % (ih, name, args.tracker)
    out({"event": "seeding", "info_hash": ih, "magnet": magnet, "torrent_hex": torrent.hex(),
         "name": name, "piece_length": ti.piece_length(), "length": ti.total_size(),
         "seconds": round(time.time() - t_start, 3)})
    watch = StdinWatch()
    counters = {}
    deadline = time.time() + args.limit
    last_report = 0
    while not watch.closed.is_set() and time.time() < deadline:
        drain_alerts(ses, counters)
        now = time.time()
        if now - last_report >= args.report:
            last_report = now
            st = h.status()
            out({"event": "stats", "uploaded": st.total_payload_upload, "peers": st.num_peers,
                 "state": str(st.state), "errors": counters.get("errors", 0)})
        watch.closed.wait(0.2)
    st = h.status()
    out({"event": "stopped", "uploaded": st.total_payload_upload, "peers": st.num_peers,
         "reason": "stdin closed" if watch.closed.is_set() else "time limit"})
    ses.pause()
    return 0


def cmd_download(args):
    src = args.source
    ses = new_session()
    if src.startswith("magnet:"):
        atp = lt.parse_magnet_uri(src)
        by = "magnet"
    else:
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(src)
        by = "torrent"
    tmp = None
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        save = args.out
    else:
        tmp = tempfile.mkdtemp(prefix="lt_peer_")
        save = tmp
    try:
        atp.save_path = save
        atp.trackers = [args.tracker]
        atp.flags = atp.flags & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
        t0 = time.time()
        h = ses.add_torrent(atp)
        counters = {}
        deadline = t0 + args.limit
        last_bytes = -1
        last_progress_at = time.time()
        last_report = 0
        metadata_at = None
        while True:
            drain_alerts(ses, counters)
            st = h.status()
            now = time.time()
            if metadata_at is None and st.has_metadata:
                metadata_at = now - t0
            got = st.total_wanted_done
            if got != last_bytes:
                last_bytes = got
                last_progress_at = now
            if st.is_seeding or (st.has_metadata and st.total_wanted > 0 and got >= st.total_wanted
                                 and st.state in (lt.torrent_status.finished, lt.torrent_status.seeding)):
                break
            if now - last_report >= args.report:
                last_report = now
                out({"event": "progress", "bytes": got, "wanted": st.total_wanted,
                     "rate": st.download_payload_rate, "peers": st.num_peers,
                     "state": str(st.state), "metadata": st.has_metadata,
                     "seconds": round(now - t0, 2)})
            if now - last_progress_at > args.stall:
                msg = ("stalled: no progress for %.0f s at %d of %d bytes (metadata %s, peers %d, "
                       "%d disconnects, %d error alerts)" % (now - last_progress_at, got,
                       st.total_wanted, st.has_metadata, st.num_peers,
                       counters.get("disconnects", 0), counters.get("errors", 0)))
                log(msg)
                for line in RING:
                    log("peer log: " + line)
                out({"done": False, "error": msg, "bytes": got, "seconds": round(now - t0, 2),
                     "peers": peers_summary(h)})
                return 2
            if now > deadline:
                msg = "time limit %d s passed at %d of %d bytes" % (args.limit, got, st.total_wanted)
                log(msg)
                out({"done": False, "error": msg, "bytes": got, "seconds": round(now - t0, 2)})
                return 3
            time.sleep(0.1)
        seconds = time.time() - t0
        ti = h.torrent_file()
        peers = peers_summary(h)
        # Flush to disk before hashing what was written.
        h.flush_cache() if hasattr(h, "flush_cache") else None
        fs = ti.files()
        sha = hashlib.sha256()
        total = 0
        for i in range(fs.num_files()):
            with open(os.path.join(save, fs.file_path(i)), "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    sha.update(chunk)
                    total += len(chunk)
        st = h.status()
        res = {"done": True, "sha256": sha.hexdigest(), "bytes": total, "seconds": round(seconds, 3),
               "metadata_seconds": round(metadata_at, 3) if metadata_at is not None else None,
               "by": by, "name": ti.name(), "info_hash": str(ti.info_hashes().v1),
               "mbps": round(total / seconds / 1e6, 2) if seconds > 0 else None,
               "downloaded": st.total_payload_download, "errors": counters.get("errors", 0),
               "peers": peers}
        out(res)
        if args.keep_seeding > 0:
            watch = StdinWatch()
            end = time.time() + args.keep_seeding
            while not watch.closed.is_set() and time.time() < end:
                drain_alerts(ses, counters)
                watch.closed.wait(0.2)
            st = h.status()
            out({"event": "stopped", "uploaded": st.total_payload_upload})
        return 0
    finally:
        ses.pause()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def cmd_hash(args):
    torrent = make_torrent(os.path.abspath(args.file), args.piece_length)
    ih, ti = info_hash_hex(torrent)
    out({"info_hash": ih, "piece_length": ti.piece_length(), "name": ti.name(),
         "length": ti.total_size()})
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("file")
    s.add_argument("--tracker", required=True)
    s.add_argument("--piece-length", type=int, default=256 * 1024)
    s.add_argument("--limit", type=float, default=600)
    s.add_argument("--report", type=float, default=5)
    d = sub.add_parser("download")
    d.add_argument("source")
    d.add_argument("--tracker", required=True)
    d.add_argument("--out")
    d.add_argument("--stall", type=float, default=30)
    d.add_argument("--limit", type=float, default=300)
    d.add_argument("--report", type=float, default=2)
    d.add_argument("--keep-seeding", type=float, default=0)
    hsh = sub.add_parser("hash")
    hsh.add_argument("file")
    hsh.add_argument("--piece-length", type=int, default=256 * 1024)
    args = p.parse_args()
    return {"seed": cmd_seed, "download": cmd_download, "hash": cmd_hash}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
