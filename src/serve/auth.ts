// Optional API key: `Authorization: Bearer <key>` on every route but the public ones (GET /health).
// Keys are compared as SHA-256 digests with crypto.timingSafeEqual, so neither the key's content nor its length
// shows in the comparison time.
import crypto from 'node:crypto';
import { HttpError } from './errors';

const digest = (value: string): Buffer => crypto.createHash('sha256').update(value, 'utf8').digest();

export class ApiKeyCheck {
  private readonly expected: Buffer;

  constructor(apiKey: string) {
    if (typeof apiKey !== 'string' || apiKey.length === 0) throw new TypeError('the API key must be a non-empty string');
    this.expected = digest(apiKey);
  }

  /** Throws a 401 HttpError unless the Authorization header carries the key. */
  check(authorization: string | string[] | undefined): void {
    const header = Array.isArray(authorization) ? authorization[0] : authorization;
    if (!header) throw unauthorized('missing API key: send "Authorization: Bearer <key>"');
    const match = /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(header);
    const given = digest(match ? match[1] : '');
    // Digest both sides, always, so a malformed header costs the same as a wrong key.
    const ok = crypto.timingSafeEqual(given, this.expected);
    if (!match || !ok) throw unauthorized('invalid API key');
  }
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer' });
}
