// Mutable runtime state shared by the provider configuration and the test admin API.
import { AsyncLocalStorage } from 'node:async_hooks';

/** Collects the HTTP status of outgoing requests (back-channel logout) made inside run(). */
export const outgoingLog = new AsyncLocalStorage();

export const DEFAULT_TTL = Object.freeze({
  AccessToken: 3600,
  IdToken: 3600,
  RefreshToken: 14 * 24 * 3600,
  Session: 14 * 24 * 3600,
  Grant: 14 * 24 * 3600,
  Interaction: 3600,
  AuthorizationCode: 60,
});

export const ttl = { ...DEFAULT_TTL };

export function setTtl(values) {
  for (const [name, seconds] of Object.entries(values)) {
    if (!(name in DEFAULT_TTL)) {
      throw new TypeError(`unknown ttl ${name}; known: ${Object.keys(DEFAULT_TTL).join(', ')}`);
    }
    if (!Number.isSafeInteger(seconds) || seconds <= 0) {
      throw new TypeError(`ttl ${name} must be a positive integer (seconds)`);
    }
    ttl[name] = seconds;
  }
}

export function resetTtl() {
  Object.assign(ttl, DEFAULT_TTL);
}

// Request counters, keyed by endpoint ("discovery", "token:refresh_token", ...).
export const counts = new Map();

export function count(key) {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

export function resetCounts() {
  counts.clear();
}

/** Whether refresh tokens rotate (Logto's habit; LemonLDAP::NG never rotates). */
export const rotation = { enabled: true };
