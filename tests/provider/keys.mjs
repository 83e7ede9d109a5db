// Signing keys. A P-384 EC key (ES384, like Logto) at startup; rotation prepends a new key,
// which oidc-provider then prefers for signing, and keeps the old ones in the JWKS.
import * as crypto from 'node:crypto';

const rsa = () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ALGS = {
  ES384: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ES256: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ES512: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' }),
  RS256: rsa,
  RS384: rsa,
  RS512: rsa,
  PS256: rsa,
  PS384: rsa,
  PS512: rsa,
  EdDSA: () => crypto.generateKeyPairSync('ed25519'),
};
/** Every algorithm a key can be generated for (and clients may be registered with). */
export const SIGNING_ALGS = Object.keys(ALGS);

export function generateKey(alg = 'ES384') {
  const generate = ALGS[alg];
  if (!generate) throw new TypeError(`unsupported key alg ${alg}; use one of ${Object.keys(ALGS)}`);
  const { privateKey } = generate();
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}` };
}

export const keyring = {
  keys: [generateKey('ES384')],
  /** alg used for ID tokens (client default) and JWT access tokens */
  get alg() {
    return this.keys[0].alg;
  },
};

export function rotate({ alg = 'ES384', dropOld = false } = {}) {
  const key = generateKey(alg);
  keyring.keys = dropOld ? [key] : [key, ...keyring.keys];
  return key;
}

export function publicKeys() {
  return keyring.keys.map(({ kty, crv, x, y, n, e, alg, use, kid }) => (
    Object.fromEntries(Object.entries({ kty, crv, x, y, n, e, alg, use, kid })
      .filter(([, value]) => value !== undefined))
  ));
}
