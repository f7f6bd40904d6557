// A stand-in for RTCPeerConnection that only does signalling: it makes realistic-looking SDP
// offers and answers (about 500 bytes, tagged with a per-connection id), records the remote
// description it is given and never connects. Enough for simple-peer to emit its `signal`.
let counter = 0
export const created = []

function fakeSdp (type, tag) {
  return [
    'v=0',
    `o=- ${4611731400430051336n + BigInt(counter)} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    `a=candidate:1 1 udp 2113937151 ${tag}.local 54400 typ host generation 0 network-cost 999`,
    'a=ice-ufrag:Gk3T',
    'a=ice-pwd:Pp1S0fQJ3RaL4oX2yBv7mQzZ',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF',
    `a=setup:${type === 'offer' ? 'actpass' : 'active'}`,
    'a=mid:0',
    'a=sctp-port:5000',
    'a=max-message-size:262144',
    `a=tag:${tag}`,
    ''
  ].join('\r\n')
}

class FakeChannel {
  constructor (label) {
    this.label = label
    this.readyState = 'connecting'
    this.binaryType = 'arraybuffer'
    this.bufferedAmount = 0
    this.bufferedAmountLowThreshold = 0
  }

  send () { throw new Error('fake channel never opens') }
  close () { this.readyState = 'closed' }
}

export class RTCPeerConnection {
  constructor (config) {
    this.config = config
    this.tag = `pc${++counter}`
    this.localDescription = null
    this.remoteDescription = null
    this.signalingState = 'stable'
    this.iceGatheringState = 'new'
    this.iceConnectionState = 'new'
    this.connectionState = 'new'
    created.push(this)
  }

  createDataChannel (label) { return new FakeChannel(label) }
  async createOffer () { return { type: 'offer', sdp: fakeSdp('offer', this.tag) } }
  async createAnswer () { return { type: 'answer', sdp: fakeSdp('answer', this.tag) } }

  async setLocalDescription (d) {
    this.localDescription = { type: d.type, sdp: d.sdp }
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable'
    // Gathering "finishes" at once: the end-of-candidates event.
    setTimeout(() => {
      this.iceGatheringState = 'complete'
      this.onicegatheringstatechange?.()
      this.onicecandidate?.({ candidate: null })
    }, 5)
  }

  async setRemoteDescription (d) {
    this.remoteDescription = { type: d.type, sdp: d.sdp }
    this.signalingState = d.type === 'offer' ? 'have-remote-offer' : 'stable'
    this.onsignalingstatechange?.()
  }

  async addIceCandidate () {}
  getStats (cb) { if (cb) cb([]); return Promise.resolve(new Map()) }
  getSenders () { return [] }
  getTransceivers () { return [] }
  close () { this.connectionState = 'closed'; this.signalingState = 'closed' }
}

export class RTCSessionDescription {
  constructor (init) { this.type = init.type; this.sdp = init.sdp }
}

export class RTCIceCandidate {
  constructor (init) { Object.assign(this, init) }
}

export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }
