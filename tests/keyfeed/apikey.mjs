// The jwtgate API-key format in JavaScript, for the test servers and tests (the gate's
// own is core/src/apikey/format.rs; the e2e suite proves the two agree, since the gate
// accepts keys made here):
//   key    = "jg_" + base64url(32 random bytes ‖ SHA-256("jwtgate-apikey-checksum-v1" ‖ bytes)[0..4])
//   digest = "sha256:" + hex(SHA-256(key))

import { createHash, randomBytes } from 'node:crypto';

const CONTEXT = Buffer.from('jwtgate-apikey-checksum-v1');

const checksum = (entropy) => createHash('sha256').update(CONTEXT).update(entropy).digest().subarray(0, 4);

/** A new key from the OS CSPRNG (or from `entropy`, 32 bytes). */
export function generateKey(entropy = randomBytes(32)) {
  return `jg_${Buffer.concat([entropy, checksum(entropy)]).toString('base64url')}`;
}

export const digestOf = (key) => `sha256:${createHash('sha256').update(key).digest('hex')}`;

/** The same key with one character changed: its checksum no longer matches. */
export function mistype(key) {
  const i = 10;
  const c = key[i] === 'A' ? 'B' : 'A';
  return key.slice(0, i) + c + key.slice(i + 1);
}

/** Whether `key` is well formed (prefix, length, checksum). */
export function wellFormed(key) {
  if (!/^jg_[A-Za-z0-9_-]{48}$/.test(key)) return false;
  const raw = Buffer.from(key.slice(3), 'base64url');
  return raw.length === 36 && checksum(raw.subarray(0, 32)).equals(raw.subarray(32));
}
