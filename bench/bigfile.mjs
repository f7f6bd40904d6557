// A large random file on disk for the benchmarks that pick a file as a user would.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { ROOT } from './lib.mjs';

/** Creates (once) bench/tmp/<name> of `size` pseudo-random bytes and returns its path and SHA-256. */
export function bigFile(name, size) {
  const dir = path.join(ROOT, 'bench/tmp');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  const sumFile = `${file}.sha256`;
  if (fs.existsSync(file) && fs.statSync(file).size === size && fs.existsSync(sumFile)) {
    return { file, sha256: fs.readFileSync(sumFile, 'utf8').trim() };
  }
  const fd = fs.openSync(file, 'w');
  const h = crypto.createHash('sha256');
  const chunk = 16 << 20;
  // Counter-mode AES as a fast deterministic stream.
  const cipher = crypto.createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(chunk);
  for (let off = 0; off < size; off += chunk) {
    const n = Math.min(chunk, size - off);
    const buf = cipher.update(zeros.subarray(0, n));
    h.update(buf);
    fs.writeSync(fd, buf);
  }
  fs.closeSync(fd);
  const sha256 = h.digest('hex');
  fs.writeFileSync(sumFile, sha256);
  return { file, sha256 };
}
