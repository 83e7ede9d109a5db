// Test-only admin API under /__test__/ (JSON in and out). Loopback-only test infrastructure:
// the server binds 127.0.0.1 and these endpoints are deliberately unauthenticated.
import { StoreAdapter, entries, revokeGrant } from './adapter.mjs';
import { publicKeys, rotate } from './keys.mjs';
import {
  DEFAULT_TTL, counts, outgoingLog, resetCounts, resetTtl, rotation, setTtl, ttl,
} from './state.mjs';

const clientStore = new StoreAdapter('Client');

export class AdminError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Registers (or replaces) a client; returns its metadata as oidc-provider resolved it. */
export async function registerClient(provider, input) {
  if (!input || typeof input !== 'object' || typeof input.client_id !== 'string') {
    throw new AdminError(400, 'client metadata with a string client_id is required');
  }
  const metadata = { ...input };
  metadata.token_endpoint_auth_method ??= metadata.client_secret ? 'client_secret_basic' : 'none';
  if (metadata.backchannel_logout_uri) metadata.backchannel_logout_session_required ??= true;
  try {
    await provider.Client.validate(metadata);
  } catch (error) {
    throw new AdminError(400, `${error.message}: ${error.error_description ?? ''}`);
  }
  await clientStore.upsert(metadata.client_id, metadata);
  const client = await provider.Client.find(metadata.client_id);
  return client.metadata();
}

function sessions() {
  return entries('Session')
    .filter(({ payload }) => payload.accountId)
    .map(({ payload }) => {
      const authorizations = payload.authorizations ?? {};
      const sids = Object.fromEntries(
        Object.entries(authorizations).map(([clientId, { sid }]) => [clientId, sid]),
      );
      return {
        uid: payload.uid,
        sub: payload.accountId,
        sid: Object.values(sids)[0] ?? null,
        sids,
        clients: Object.keys(authorizations),
        login_ts: payload.loginTs ?? null,
      };
    });
}

async function backchannelLogout(provider, { sub, sid, client_id: clientId }) {
  if (typeof sub !== 'string') throw new AdminError(400, 'sub is required');
  const targets = new Map();
  for (const session of sessions()) {
    if (session.sub !== sub) continue;
    for (const [id, clientSid] of Object.entries(session.sids)) {
      if ((clientId && id !== clientId) || (sid && clientSid !== sid)) continue;
      targets.set(`${id} ${clientSid}`, { clientId: id, sid: clientSid });
    }
  }
  if (!targets.size && clientId) targets.set(clientId, { clientId, sid });

  const results = [];
  for (const target of targets.values()) {
    const result = { client_id: target.clientId, sid: target.sid ?? null, status: null, error: null };
    results.push(result);
    const client = await provider.Client.find(target.clientId);
    if (!client?.backchannelLogoutUri) {
      result.error = 'client has no backchannel_logout_uri';
      continue;
    }
    result.uri = client.backchannelLogoutUri;
    const statuses = [];
    try {
      await outgoingLog.run(statuses, () => client.backchannelLogout(sub, target.sid));
    } catch (error) {
      result.error = error.cause?.message ?? error.message;
    }
    result.status = statuses.at(-1) ?? null;
  }
  return results;
}

function revokeGrantsOf(sub) {
  const grants = entries('Grant').filter(({ payload }) => payload.accountId === sub);
  for (const { id } of grants) revokeGrant(id);
  return { revoked: grants.length };
}

/**
 * Dispatches one admin request. `app` is { provider, rebuild() }; returns [status, body].
 */
export async function handleAdmin(app, method, path, body) {
  const route = `${method} ${path}`;
  switch (route) {
    case 'GET /__test__/health':
      return [200, { ok: true, issuer: app.provider.issuer }];
    case 'POST /__test__/clients':
      return [200, await registerClient(app.provider, body)];
    case 'GET /__test__/counts':
      return [200, Object.fromEntries(counts)];
    case 'POST /__test__/counts/reset':
      resetCounts();
      return [200, {}];
    case 'GET /__test__/ttl':
      return [200, { ...ttl }];
    case 'POST /__test__/ttl':
      try {
        setTtl(body ?? {});
      } catch (error) {
        throw new AdminError(400, error.message);
      }
      return [200, { ...ttl }];
    case 'POST /__test__/rotation':
      rotation.enabled = body?.enabled !== false;
      return [200, { enabled: rotation.enabled }];
    case 'POST /__test__/ttl/reset':
      resetTtl();
      return [200, { ...DEFAULT_TTL }];
    case 'POST /__test__/grants/revoke':
      if (typeof body?.sub !== 'string') throw new AdminError(400, 'sub is required');
      return [200, revokeGrantsOf(body.sub)];
    case 'GET /__test__/sessions':
      return [200, sessions()];
    case 'POST /__test__/backchannel-logout':
      return [200, await backchannelLogout(app.provider, body ?? {})];
    case 'POST /__test__/keys/rotate': {
      let key;
      try {
        key = rotate({ alg: body?.alg ?? 'ES384', dropOld: !!body?.drop_old });
      } catch (error) {
        throw new AdminError(400, error.message);
      }
      app.rebuild();
      return [200, { kid: key.kid, alg: key.alg, keys: publicKeys() }];
    }
    default:
      throw new AdminError(404, `no admin route ${route}`);
  }
}
