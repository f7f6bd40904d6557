// Compatibility check: two npm bittorrent-tracker 11 clients (real client code, fake WebRTC)
// announce to the tracker given as argv[2], exchange an offer and an answer through it, and
// scrape. Prints one JSON line with what happened; exits 0 only if everything checked out.
//
//   node --import ./register.mjs client-exchange.mjs ws://127.0.0.1:PORT/announce
import Client from 'bittorrent-tracker'
import { created } from 'webrtc-polyfill' // resolved to fake-webrtc.mjs by hooks.mjs

const announce = process.argv[2]
if (!announce) { console.error('usage: client-exchange.mjs ws://host:port/announce'); process.exit(2) }

const infoHash = 'c0ffee0000000000000000000000000000000042'
const seederId = Buffer.from('-WW0300-seeder000001').toString('hex')
const leecherId = Buffer.from('-WW0300-leecher00002').toString('hex')
const result = { warnings: [] }
const fail = (msg) => {
  console.log(JSON.stringify({ ok: false, error: msg, ...result }))
  process.exit(1)
}
setTimeout(() => fail('timed out'), 20000).unref()

function client (peerId, left) {
  const c = new Client({
    infoHash,
    peerId,
    announce: [announce],
    port: 6881,
    getAnnounceOpts: () => ({ left, uploaded: 0, downloaded: 0 })
  })
  c.on('error', (err) => fail(`client error: ${err.message}`))
  c.on('warning', (err) => result.warnings.push(err.message))
  return c
}

const once = (emitter, name) => new Promise((resolve) => emitter.once(name, resolve))

const seeder = client(seederId, 0)
seeder.start()
const first = await once(seeder, 'update')
result.seederUpdate = { complete: first.complete, incomplete: first.incomplete }

const leecher = client(leecherId, 1000)
const seederGotPeer = once(seeder, 'peer') // from the leecher's forwarded offer
const leecherGotPeer = once(leecher, 'peer') // from the seeder's relayed answer
leecher.start()
const upd = await once(leecher, 'update')
result.leecherUpdate = { complete: upd.complete, incomplete: upd.incomplete, interval: upd.interval }

const offered = await seederGotPeer
result.seederPeerId = offered.id
const answered = await leecherGotPeer
result.leecherPeerId = answered.id

// The leecher's connection that got the answer holds the seeder's fake answer SDP.
await new Promise((resolve) => setTimeout(resolve, 50))
const withAnswer = created.filter((pc) => pc.remoteDescription?.type === 'answer')
result.answersApplied = withAnswer.length
result.answerSdpBytes = withAnswer[0]?.remoteDescription.sdp.length ?? 0

leecher.scrape()
const sc = await once(leecher, 'scrape')
result.scrape = { complete: sc.complete, incomplete: sc.incomplete, downloaded: sc.downloaded }

seeder.stop()
leecher.stop()
await new Promise((resolve) => setTimeout(resolve, 300))
seeder.destroy()
leecher.destroy()

const checks = [
  [result.seederUpdate.complete === 1 && result.seederUpdate.incomplete === 0, 'seeder update counts'],
  [result.leecherUpdate.complete === 1 && result.leecherUpdate.incomplete === 1, 'leecher update counts'],
  [result.leecherUpdate.interval === 120, 'interval 120'],
  [result.seederPeerId === leecherId, 'offer came from the leecher'],
  [result.leecherPeerId === seederId, 'answer came from the seeder'],
  [result.answersApplied === 1 && result.answerSdpBytes > 400, 'answer SDP applied'],
  [result.scrape.complete === 1 && result.scrape.incomplete === 1, 'scrape counts'],
  [result.warnings.length === 0, 'no warnings']
]
const bad = checks.filter(([ok]) => !ok).map(([, what]) => what)
if (bad.length) fail(`failed: ${bad.join(', ')}`)
console.log(JSON.stringify({ ok: true, ...result }))
process.exit(0)
