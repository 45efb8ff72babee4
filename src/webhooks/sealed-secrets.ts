import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Webhook secrets are needed in clear to sign, so they cannot be stored hashed like API keys. They
 * are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the server's token secret
 * (WEBDIAL_TOKEN_SECRET, the same on every instance), so the event store never holds them in clear.
 * Format: `v1.<iv>.<ciphertext+tag>`, base64url parts.
 */
export class SecretSealer {
  private readonly key: Buffer;

  constructor(serverSecret: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', serverSecret, 'webdial', 'webhook endpoint secrets v1', 32));
  }

  seal(secret: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(secret, 'utf8'), c.final(), c.getAuthTag()]);
    return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** Throws when the text was not sealed with this server secret (e.g. WEBDIAL_TOKEN_SECRET changed). */
  open(sealed: string): string {
    const [v, iv, body] = sealed.split('.');
    if (v !== 'v1' || !iv || !body) throw new Error('not a sealed webhook secret');
    const raw = Buffer.from(body, 'base64url');
    const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    d.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([d.update(raw.subarray(0, raw.length - 16)), d.final()]).toString('utf8');
  }
}
