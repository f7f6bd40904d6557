#!/usr/bin/env python3
"""Writes the committed seed corpora (fuzz/corpus/<target>/): real messages of each format,
as tabswarm, WebTorrent and libtorrent send them. Run from fuzz/: python3 seeds/make.py"""
import hashlib, json, os, struct

def be(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, str): v = v.encode()
    if isinstance(v, bytes): return b"%d:" % len(v) + v
    if isinstance(v, list): return b"l" + b"".join(be(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(be(k) + be(x) for k, x in items) + b"e"
    raise TypeError(v)

def out(target, name, data):
    os.makedirs(f"corpus/{target}", exist_ok=True)
    with open(f"corpus/{target}/{name}", "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)

content = bytes((i * 131) % 251 for i in range(40000))
pieces = b"".join(hashlib.sha1(content[i:i + 16384]).digest() for i in range(0, len(content), 16384))
single = {"name": "demo.bin", "piece length": 16384, "pieces": pieces, "length": len(content)}
multi = {"name": "dir", "piece length": 16384, "pieces": pieces,
         "files": [{"length": 30000, "path": ["a", "x.txt"]}, {"length": 10000, "path": ["b.bin"]}]}
ih = hashlib.sha1(be(single)).digest()
t1 = be({"announce": "wss://tracker.openwebtorrent.com", "announce-list": [["wss://tracker.openwebtorrent.com"], ["wss://tracker.webtorrent.dev"]],
         "created by": "WebTorrent <https://webtorrent.io>", "creation date": 1700000000, "info": single,
         "url-list": ["https://example.org/demo.bin"]})
t2 = be({"announce": "ws://127.0.0.1:8000", "comment": "multi", "info": multi})
t3 = be({"info": dict(single, private=1)})
for i, t in enumerate([t1, t2, t3]):
    out("metainfo", f"torrent{i}", t)
    out("bencode", f"torrent{i}", t)

ext_hs = [be({"m": {"ut_metadata": 1, "ut_pex": 2}, "metadata_size": 170, "reqq": 250, "v": "tabswarm 0.1.0"}),
          be({"m": {"ut_metadata": 3}, "metadata_size": 31235, "v": "WebTorrent/0210", "p": 6881}),
          be({"m": {"lt_donthave": 7, "upload_only": 3, "ut_holepunch": 4, "ut_metadata": 2, "ut_pex": 1},
              "metadata_size": 5000, "reqq": 500, "v": "libtorrent/2.1.1", "yourip": b"\x7f\x00\x00\x01"})]
utm = [be({"msg_type": 0, "piece": 0}), be({"msg_type": 2, "piece": 1}),
       be({"msg_type": 1, "piece": 0, "total_size": 170}) + be(single)[:170]]
for i, m in enumerate(ext_hs + utm):
    out("ext", f"msg{i}", m)
    out("bencode", f"ext{i}", m)

for i, m in enumerate([
    "magnet:?xt=urn:btih:" + ih.hex() + "&dn=demo.bin&tr=wss%3A%2F%2Ftracker.openwebtorrent.com&tr=ws%3A%2F%2F127.0.0.1%3A8080",
    "magnet:?xt=urn:btih:CIMPVQLLYRG6PZGWPZ5I6NX4GZ7W5G4Z&dn=Big+Buck+Bunny&tr=udp%3A%2F%2Fexplodie.org%3A6969&ws=https%3A%2F%2Fwebtorrent.io%2Ftorrents%2F",
    "magnet:?xt=urn:btih:" + ih.hex() + "&xs=https%3A%2F%2Fexample.org%2Fdemo.torrent&as=https%3A%2F%2Fexample.org%2Fdemo.bin",
]):
    out("magnet", f"link{i}", m)

def msg(mid, payload=b""): return struct.pack(">IB", len(payload) + 1, mid) + payload
hs = b"\x13BitTorrent protocol" + bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04]) + ih + b"-WW0210-abcdefghijkl"
stream = (hs + msg(20, b"\x00" + ext_hs[1]) + msg(5, b"\xe0") + msg(1) + msg(2) + struct.pack(">I", 0)
          + msg(6, struct.pack(">III", 0, 0, 16384)) + msg(7, struct.pack(">II", 1, 0) + content[16384:17408])
          + msg(4, struct.pack(">I", 2)) + msg(8, struct.pack(">III", 0, 0, 16384)) + msg(20, b"\x03" + utm[2])
          + msg(9, b"\x1a\xe1") + msg(0) + msg(3))
out("wire", "session", b"\x07" + stream)
out("wire", "fast", b"\x00" + hs + msg(14) + msg(15) + msg(16, struct.pack(">III", 0, 0, 16384)) + msg(17, struct.pack(">I", 1)) + msg(13, struct.pack(">I", 3)))

ihs = ih.decode("latin-1"); pid = "-WW0210-abcdefghijkl"
sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
for i, m in enumerate([
    {"action": "announce", "info_hash": ihs, "peer_id": pid, "event": "started", "numwant": 5, "uploaded": 0, "downloaded": 0, "left": 40000,
     "offers": [{"offer_id": "o" * 20, "offer": {"type": "offer", "sdp": sdp}}]},
    {"action": "announce", "info_hash": ihs, "peer_id": pid, "to_peer_id": "-TS0001-000000000000", "offer_id": "o" * 20, "answer": {"type": "answer", "sdp": sdp}},
    {"action": "scrape", "info_hash": [ihs, "b" * 20]},
    {"action": "announce", "interval": 120, "info_hash": ihs, "complete": 3, "incomplete": 1},
    {"action": "announce", "info_hash": ihs, "peer_id": pid, "offer_id": "o" * 20, "offer": {"type": "offer", "sdp": sdp}},
    {"failure reason": "info_hash is not in the allowlist"},
    {"action": "scrape", "files": {ihs: {"complete": 2, "incomplete": 0, "downloaded": 9}}},
    {"action": "announce", "info_hash": ihs, "warning message": "slow down", "interval": 300},
]):
    out("tracker", f"json{i}", json.dumps(m, ensure_ascii=False).encode("utf-8"))

# The engine target reads a script (fuzz_targets/engine.rs): flags, then ops.
out("engine", "download-hostile-unchokes", bytes([0, 0, 4, 0xff, 4, 2, 11, 8, 0, 100, 2, 0, 0, 1, 2, 0, 1, 1, 8, 0, 200]))
out("engine", "magnet-wrong-size", bytes([1, 1, 0, 0, 0x10, 0, 5, 1, 2, 1, 8, 1, 0]))
out("engine", "garbage-after-handshake", bytes([0, 0, 0, 20]) + os.urandom(0) + b"\x00" * 20 + bytes([1, 3, 0, 0, 0, 0, 7]))
