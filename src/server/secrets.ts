import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Bearer secrets (join tokens, admin tokens) are 256 random bits, shown once,
 * and stored only as their SHA-256: a leaked database does not leak them.
 * The prefix tells a human which kind of secret they are holding.
 */
export function newSecret(prefix: 'iljt' | 'iladm'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
