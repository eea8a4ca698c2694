import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { NotConfiguredError } from '../../errors.js';

/**
 * AES-256-GCM for tenant secrets at rest. The stored form names the key that sealed it
 * (`v1.<key id>.<iv>.<tag>.<ciphertext>`, base64url), so an operator can rotate ZIA_SECRET_KEY and keep
 * the old key in ZIA_SECRET_KEY_PREVIOUS until every tenant has been re-saved.
 */
export interface SecretBox {
  readonly configured: boolean;
  seal(plaintext: string): string;
  open(sealed: string): string;
  /** True when the value was sealed with a key other than the current one. */
  needsRotation(sealed: string): boolean;
}

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

export function createSecretBox(keys: Buffer[]): SecretBox {
  const byId = new Map(keys.map((k) => [keyId(k), k]));
  const current = keys[0];
  const currentId = current ? keyId(current) : undefined;
  return {
    configured: current !== undefined,
    seal(plaintext) {
      if (!current) {
        throw new NotConfiguredError(
          'ZIA_SECRET_KEY is not set: tenant secrets cannot be stored (run `zia init` or set a 32-byte key)',
        );
      }
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return ['v1', currentId, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join('.');
    },
    open(sealed) {
      const [version, id, iv, tag, ct] = sealed.split('.');
      if (version !== 'v1' || !id || !iv || !tag || ct === undefined) throw new Error('unrecognised secret format');
      const key = byId.get(id);
      if (!key) {
        throw new NotConfiguredError(
          `tenant secrets were sealed with key ${id}, which is neither ZIA_SECRET_KEY nor in ZIA_SECRET_KEY_PREVIOUS`,
        );
      }
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
    needsRotation(sealed) {
      return sealed.split('.')[1] !== currentId;
    },
  };
}

/** Shows only the last 4 characters, the way every output of zia shows a secret. */
export function redact(secret: string | undefined | null): string | null {
  if (!secret) return null;
  return secret.length <= 8 ? '••••' : `••••${secret.slice(-4)}`;
}
