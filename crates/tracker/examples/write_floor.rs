//! The kernel's floor for the tracker's CPU per outgoing message: the CPU time one small
//! loopback TCP write costs the writing thread, when consecutive writes go to different
//! sockets (as a tracker's do: a reply here, an offer there).
//!
//! ```text
//! cargo run --release -p tabswarm-tracker --example write_floor -- [SOCKETS] [BYTES] [SECS]
//! ```
//! Opens SOCKETS (default 1000) loopback connections with `TCP_NODELAY` (as the tracker's),
//! then one thread writes BYTES-byte messages (default 600, a forwarded offer) to them round
//! robin for SECS seconds (default 5) while another thread reads them back in the same order
//! (blocking, so it sleeps when it catches up and each write may have to wake it, as a
//! client's event loop would be). Prints the writer thread's user and system CPU time per
//! write, and the same for 2 and 5 messages coalesced into one write (what batching could
//! save), and the reader thread's CPU per message read.
//!
//! On loopback the receiving side's TCP processing runs in the sender's softirq, so the
//! writer's system time is the whole kernel cost of delivering one message.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// (user, system) CPU seconds of the calling thread, from `/proc/thread-self/stat`.
fn thread_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // USER_HZ is 100 on Linux.
    (
        f.get(11).copied().unwrap_or(0.0) / 100.0,
        f.get(12).copied().unwrap_or(0.0) / 100.0,
    )
}

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .map_or(default, |a| a.parse().unwrap_or(default))
}

struct Run {
    writes: u64,
    messages: u64,
    writer: (f64, f64),
    /// Messages the reader got back (all of them: it reads to the end of each stream).
    reads: u64,
    reader: (f64, f64),
}

/// Writes `batch` messages of `bytes` per write, round robin over the pairs, for `secs`.
fn run(sockets: usize, bytes: usize, batch: usize, secs: f64) -> std::io::Result<Run> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut writers = Vec::with_capacity(sockets);
    let mut readers = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let c = TcpStream::connect(addr)?;
        let (s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        writers.push(s);
        readers.push(c);
    }
    let chunk = bytes * batch;
    // The reader stops at the end of the stream: the writer closes its sockets when done.
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; chunk];
        let start = thread_cpu();
        let mut n = 0u64;
        'outer: loop {
            for r in &mut readers {
                if r.read_exact(&mut buf).is_err() {
                    break 'outer;
                }
                n += 1;
            }
        }
        let end = thread_cpu();
        (n, (end.0 - start.0, end.1 - start.1))
    });
    let msg = vec![b'x'; chunk];
    let start = thread_cpu();
    let t0 = Instant::now();
    let mut writes = 0u64;
    let limit = Duration::from_secs_f64(secs);
    while t0.elapsed() < limit {
        for w in &mut writers {
            w.write_all(&msg)?;
        }
        writes += sockets as u64;
    }
    let end = thread_cpu();
    drop(writers);
    let (reads, reader) = reader.join().unwrap_or((0, (0.0, 0.0)));
    Ok(Run {
        writes,
        messages: writes * batch as u64,
        writer: (end.0 - start.0, end.1 - start.1),
        reads: reads * batch as u64,
        reader,
    })
}

fn main() -> std::io::Result<()> {
    let sockets = usize::try_from(arg(1, 1000)).unwrap_or(1000).max(1);
    let bytes = usize::try_from(arg(2, 600)).unwrap_or(600).max(1);
    let secs = arg(3, 5) as f64;
    println!("{sockets} loopback sockets, {bytes}-byte messages, {secs} s per row");
    println!("msgs/write | writes | writer µs/write (user+sys) | writer µs/msg | reader µs/msg");
    for batch in [1usize, 2, 5] {
        let r = run(sockets, bytes, batch, secs)?;
        let us = |s: f64, n: u64| s * 1e6 / n as f64;
        println!(
            "{batch:>10} | {:>6} | {:>6.2} ({:.2}+{:.2}) | {:>13.2} | {:>6.2}",
            r.writes,
            us(r.writer.0 + r.writer.1, r.writes),
            us(r.writer.0, r.writes),
            us(r.writer.1, r.writes),
            us(r.writer.0 + r.writer.1, r.messages),
            us(r.reader.0 + r.reader.1, r.reads),
        );
    }
    Ok(())
}
