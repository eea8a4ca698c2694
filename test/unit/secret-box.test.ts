import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createSecretBox, redact } from '../../src/features/tenants/secret-box.js';

test('seals and opens; ciphertext does not contain the plaintext; tampering is detected', (t) => {
  const box = createSecretBox([randomBytes(32)]);
  const sealed = box.seal('EAAB-canary-secret');
  t.false(sealed.includes('canary'));
  t.is(box.open(sealed), 'EAAB-canary-secret');
  const parts = sealed.split('.');
  // One bit of the ciphertext flipped (replacing a byte with a fixed one left it unchanged 1 time in 256).
  const body = Buffer.from(parts[4]!, 'base64url');
  body[0] = body[0]! ^ 1;
  parts[4] = body.toString('base64url');
  t.throws(() => box.open(parts.join('.')));
});

test('rotation: a value sealed with the previous key still opens and is flagged for re-sealing', (t) => {
  const oldKey = randomBytes(32);
  const sealed = createSecretBox([oldKey]).seal('v');
  const rotated = createSecretBox([randomBytes(32), oldKey]);
  t.is(rotated.open(sealed), 'v');
  t.true(rotated.needsRotation(sealed));
  t.false(rotated.needsRotation(rotated.seal('v')));
});

test('without a key, sealing is a clear error', (t) => {
  const box = createSecretBox([]);
  t.false(box.configured);
  t.throws(() => box.seal('x'), { message: /ZIA_SECRET_KEY/ });
});

test('redact keeps only the last 4 characters', (t) => {
  t.is(redact('EAABsecret1234'), '••••1234');
  t.is(redact('short'), '••••');
  t.is(redact(undefined), null);
});
