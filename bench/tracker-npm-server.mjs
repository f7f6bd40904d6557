// Starts the npm bittorrent-tracker 11 server, WebSocket only, on 127.0.0.1:PORT (argv[2],
// default 0) and prints `listening on ws://127.0.0.1:PORT` once it is ready. Used by
// bench/tracker.sh as the reference tracker the load generator compares ours against.
import Server from 'bittorrent-tracker/server'

const port = Number(process.argv[2] ?? 0)
const server = new Server({ udp: false, http: false, ws: true, stats: false, trustProxy: false })
server.on('error', (err) => { console.error('tracker error:', err.message); process.exit(1) })
server.on('warning', () => {})
server.on('listening', () => {
  const addr = server.http?.address() ?? server.ws?.address()
  console.log(`listening on ws://127.0.0.1:${addr?.port ?? port}`)
})
server.listen(port, '127.0.0.1')
const stop = () => server.close(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
