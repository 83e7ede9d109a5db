// In-memory storage adapter for oidc-provider. One store for every model; it outlives a
// provider rebuild (key rotation), and the admin API can list sessions and grants from it.
// Unlike oidc-provider's bundled memory adapter it never evicts live entries (no LRU cap).

const GRACE_MS = 60_000; // keep expired entries a little, so oidc-provider reports "expired"

const store = new Map(); // `${model}:${id}` -> { payload, expiresAt }
const byUid = new Map(); // session uid -> session id
const byUserCode = new Map();

function alive(entry) {
  return entry && (entry.expiresAt === undefined || entry.expiresAt > Date.now());
}

function get(key) {
  const entry = store.get(key);
  if (entry && !alive(entry)) {
    store.delete(key);
    return undefined;
  }
  return entry;
}

export class StoreAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number'
      ? Date.now() + expiresIn * 1000 + GRACE_MS
      : undefined;
    store.set(this.key(id), { payload: structuredClone(payload), expiresAt });
    if (this.model === 'Session' && payload.uid) byUid.set(payload.uid, id);
    if (payload.userCode) byUserCode.set(payload.userCode, id);
  }

  async find(id) {
    return get(this.key(id))?.payload;
  }

  async findByUid(uid) {
    const id = byUid.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = byUserCode.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const prefix = `${this.model}:`;
    for (const [key, entry] of store) {
      if (key.startsWith(prefix) && entry.payload.grantId === grantId) store.delete(key);
    }
  }
}

/** Live payloads of one model, e.g. entries('Session'). */
export function entries(model) {
  const prefix = `${model}:`;
  const now = Math.floor(Date.now() / 1000);
  const out = [];
  for (const [key, entry] of store) {
    if (!key.startsWith(prefix) || !alive(entry)) continue;
    if (typeof entry.payload.exp === 'number' && entry.payload.exp <= now) continue;
    out.push({ id: key.slice(prefix.length), payload: entry.payload });
  }
  return out;
}

/** Deletes a grant and every token issued under it. */
export function revokeGrant(grantId) {
  for (const [key, entry] of store) {
    if (entry.payload.grantId === grantId) store.delete(key);
  }
  store.delete(`Grant:${grantId}`);
}

// Drop long-expired entries now and then.
setInterval(() => {
  for (const [key, entry] of store) {
    if (!alive(entry)) store.delete(key);
  }
}, 60_000).unref();
