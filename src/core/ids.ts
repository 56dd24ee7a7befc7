import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/**
 * A short random id with a readable prefix, e.g. `aud_7k2m9x4q1c`. 10 base32 characters give
 * 50 bits: collisions stay negligible for the record counts a project accumulates.
 */
export function newId(prefix: string, length = 10): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte & 31];
  return `${prefix}_${out}`;
}
