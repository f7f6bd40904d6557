// Wrong uses of the API that the declarations must reject. Each `@ts-expect-error` fails the
// compile if its line type-checks, so this file also proves the declarations are not `any`.
import init, { Client, type ErrorCode, type TorrentStats } from 'tabswarm';

await init();
// @ts-expect-error: storage is "auto", "memory" or "opfs"
new Client({ storage: 'disk' });
const client = new Client();
// @ts-expect-error: pieceLength is a number
await client.seed(new Uint8Array(4), { pieceLength: '16k' });
// @ts-expect-error: a number is neither content nor a torrent id
await client.add(42);
const t = await client.add('magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a');
// @ts-expect-error: no such event
t.on('donee', () => {});
// @ts-expect-error: `download` passes a byte count, not a string
t.on('download', (bytes: string) => bytes);
t.once('error', (e) => {
  const code: ErrorCode = e.code;
  // @ts-expect-error: not an error code
  if (code === 'ERR_NOPE') throw e;
});
const s: TorrentStats = t.stats();
// @ts-expect-error: progress is a number
const p: string = s.progress;
// @ts-expect-error: peers are objects with typed fields
t.peers()[0].downloadSpeed.toUpperCase();
// @ts-expect-error: keepData is a boolean
t.destroy({ keepData: 'yes' });
const kept: Array<{ infoHash: string }> = await client.restore();
// @ts-expect-error: the estimate's figures are numbers
const usage: string = (await client.storageEstimate()).usage;
export { kept, usage };
export { p };
