// A hand-made peer for the hostile end-to-end tests (peer-hostile.test.mjs), loaded into a
// blank page: it signals through the tracker with one non-trickle offer, opens one data
// channel, and lets the test write any bytes on it. No BitTorrent logic of its own.
import { withTimeout, toHex, fromHex } from './shared.js';

const latin1 = (bytes) => String.fromCharCode(...bytes);
const fromLatin1 = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function random(n) {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

/**
 * Connects to a peer of `infoHashHex` through the tracker at `announce` (whichever peer the
 * tracker hands our offer to). Resolves once the data channel is open with { peerId, remoteId
 * (hex peer ids), channel (the RTCDataChannel), send(bytes), received (array of Uint8Array), closed (a promise resolved
 * when the channel or connection closes), close() }.
 */
export async function connectRaw(announce, infoHashHex, { timeoutMs = 20_000 } = {}) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const dc = pc.createDataChannel('raw');
  dc.binaryType = 'arraybuffer';
  await pc.setLocalDescription(await pc.createOffer());
  await withTimeout(new Promise((resolve) => {
    const check = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    pc.addEventListener('icegatheringstatechange', check);
    check();
  }), timeoutMs, 'ICE gathering');

  const peerId = random(20);
  peerId.set(new TextEncoder().encode('-XX0001-'));
  const offerId = random(20);
  const ws = new WebSocket(announce);
  await withTimeout(new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('tracker socket failed'));
  }), timeoutMs, 'tracker socket');
  const answered = new Promise((resolve) => {
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.answer && msg.offer_id && toHex(fromLatin1(msg.offer_id)) === toHex(offerId)) {
        resolve({ answer: msg.answer, from: toHex(fromLatin1(msg.peer_id)) });
      }
    };
  });
  ws.send(JSON.stringify({
    action: 'announce',
    info_hash: latin1(fromHex(infoHashHex)),
    peer_id: latin1(peerId),
    numwant: 1,
    uploaded: 0,
    downloaded: 0,
    left: 1,
    event: 'started',
    offers: [{ offer_id: latin1(offerId), offer: { type: 'offer', sdp: pc.localDescription.sdp } }],
  }));
  const { answer, from } = await withTimeout(answered, timeoutMs, 'an answer to our offer');
  await pc.setRemoteDescription(answer);
  await withTimeout(new Promise((resolve) => {
    if (dc.readyState === 'open') resolve();
    dc.addEventListener('open', resolve);
  }), timeoutMs, 'data channel open');
  // Signalling is done; the tracker socket is not needed any more.
  ws.close();

  const received = [];
  dc.addEventListener('message', (ev) => received.push(new Uint8Array(ev.data)));
  const closed = new Promise((resolve) => {
    dc.addEventListener('close', () => resolve('channel closed'));
    pc.addEventListener('connectionstatechange', () => {
      if (['closed', 'failed', 'disconnected'].includes(pc.connectionState)) resolve(`connection ${pc.connectionState}`);
    });
  });
  return {
    peerId: toHex(peerId),
    remoteId: from,
    channel: dc,
    send: (bytes) => dc.send(bytes),
    received,
    closed,
    close: () => pc.close(),
  };
}

/** A BitTorrent handshake (BEP 3) with the extension-protocol bit (BEP 10) set. */
export function handshake(infoHash, peerId) {
  const out = new Uint8Array(68);
  out[0] = 19;
  out.set(new TextEncoder().encode('BitTorrent protocol'), 1);
  out[25] = 0x10;
  out.set(infoHash, 28);
  out.set(peerId, 48);
  return out;
}

/** A length-prefixed peer-wire message: id and payload. */
export function message(id, payload = new Uint8Array(0)) {
  const out = new Uint8Array(5 + payload.length);
  new DataView(out.buffer).setUint32(0, 1 + payload.length);
  out[4] = id;
  out.set(payload, 5);
  return out;
}

/** A `request` (id 6) for `len` bytes at `begin` of piece `index`. */
export function request(index, begin, len) {
  const p = new Uint8Array(12);
  const v = new DataView(p.buffer);
  v.setUint32(0, index);
  v.setUint32(4, begin);
  v.setUint32(8, len);
  return message(6, p);
}

export { random, toHex, fromHex };
