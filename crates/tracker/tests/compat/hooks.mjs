// Node module hook: resolve `webrtc-polyfill` (whose native node-datachannel binary is not
// built here) to fake-webrtc.mjs, so bittorrent-tracker's real client code runs in Node.
const fake = new URL('./fake-webrtc.mjs', import.meta.url).href

export async function resolve (specifier, context, next) {
  if (specifier === 'webrtc-polyfill') return { url: fake, shortCircuit: true }
  return next(specifier, context)
}
