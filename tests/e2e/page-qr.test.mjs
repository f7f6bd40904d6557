// The page's QR encoder (www/qr.js) draws the same codes as the Rust crate qrcodegen 1.8,
// which the page used before: the digests below are of qrcodegen's SVGs for the same texts
// (ECC level L, boosted; 4-module border).
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { qrModules, qrSvg } from '../../www/qr.js';

const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

test('QR codes match qrcodegen module for module', () => {
  const cases = [
    ['a', '983aaca97c8c53a1ec6fffab95a646fbd1f3c23a617178f5bf415db5e7e637dd'],
    ['magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=video.mp4&tr=ws%3A%2F%2F127.0.0.1%3A8080%2Fannounce',
      '81f92061a9b007ed15444d9c946b4c7ffc0b203b105898a412943dd80a29baaf'],
    ['é€ unicode ✓', '13e62bd1714932970220bb475a3760bbca115065bff5519722e80d0aa9726cd3'],
    ['y'.repeat(300), '286ac764766d1ad2dd5d04efa042c598adab593cc7358b4d6317107abbd3e8a9'],
    ['z'.repeat(2953), 'd536e1cd2cad610d61e59454efd7d8c4cee70db6a654f239d0c5b5590d06dc98'],
  ];
  for (const [text, digest] of cases) assert.equal(sha256(qrSvg(text)), digest, `${text.slice(0, 20)}… (${text.length})`);
});

test('sizes follow the version, and too long a text gives null', () => {
  assert.equal(qrModules('a').length, 21); // version 1
  assert.equal(qrModules('z'.repeat(2953)).length, 177); // version 40, the largest
  assert.equal(qrModules('z'.repeat(2954)), null);
  assert.equal(qrSvg('z'.repeat(2954)), null);
});
