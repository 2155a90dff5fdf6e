// TURN REST API credentials (draft-uberti-behave-turn-rest, coturn's `use-auth-secret`): pure.
import { createHmac } from 'node:crypto';

/**
 * username = "<expiry unix seconds>:<user>", password = base64(HMAC-SHA1(shared secret, username)).
 * The server accepts them until the expiry, so a short TTL limits what a leaked pair is worth.
 */
export function turnRestCredentials(sharedSecret: string, user: string, ttlSeconds: number, nowMs: number): { username: string; password: string } {
  const expiry = Math.floor(nowMs / 1000) + Math.max(1, Math.round(ttlSeconds));
  const username = `${expiry}:${user}`;
  const password = createHmac('sha1', sharedSecret).update(username, 'utf8').digest('base64');
  return { username, password };
}
