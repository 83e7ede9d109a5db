// oidc-provider configured the way Logto configures it. buildProvider() is called at startup
// and again after a key rotation (the keystore is fixed per Provider instance); all state
// lives in adapter.mjs / state.mjs / keys.mjs, so a rebuild loses nothing.
import * as crypto from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

import { StoreAdapter } from './adapter.mjs';
import { keyring, SIGNING_ALGS } from './keys.mjs';
import { installOrganizationGrant } from './org_grant.mjs';
import { count, outgoingLog, rotation, ttl } from './state.mjs';
import {
  ORGANIZATION_AUDIENCE_PREFIX, SCOPE_CLAIMS, resourceServerScopes, userBySub, userClaims,
} from './users.mjs';

const COOKIE_KEYS = [crypto.randomBytes(32).toString('base64url')];

/** The interaction params Logto's sign-in experience understands. */
export const LOGTO_AUTH_PARAMS = [
  'interaction_mode', 'first_screen', 'identifier', 'direct_sign_in', 'organization_id',
];

async function findAccount(_ctx, sub) {
  const user = userBySub(sub);
  if (!user) return undefined;
  return {
    accountId: sub,
    async claims(use) {
      return userClaims(user, use);
    },
  };
}

// Loopback is allowed on purpose: back-channel logout must reach test apps on 127.0.0.1.
// oidc-provider passes an SSRF-guarding undici dispatcher in `options.dispatcher`; drop it.
async function fetchAllowingLoopback(url, options) {
  const { dispatcher: _ssrfGuard, ...rest } = options;
  const response = await globalThis.fetch(url, rest);
  outgoingLog.getStore()?.push(response.status);
  return response;
}

function logoutSource(ctx, form) {
  // No "do you want to sign out?" question: the form (hidden xsrf + logout=yes) submits
  // itself in a browser; non-JS clients submit the single form as is (see provider.py).
  const autoForm = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
  ctx.type = 'html';
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signing out</title></head>
<body><h1>Signing out…</h1>${autoForm}
<noscript><button type="submit" form="op.logoutForm">Continue</button></noscript>
<script>document.getElementById('op.logoutForm').submit()</script></body></html>`;
}

function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signed out</title></head>'
    + '<body><h1>Signed out</h1></body></html>';
}

function renderError(ctx, out) {
  ctx.type = 'html';
  const rows = Object.entries(out)
    .map(([key, value]) => `<p><b>${key}</b>: <span>${String(value).replace(/[<>&"]/g, '')}</span></p>`);
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Error</title></head>
<body><h1>Something went wrong</h1>${rows.join('')}</body></html>`;
}

function routeKey(ctx) {
  const route = ctx.oidc?.route;
  if (!route) return undefined;
  if (route === 'token') return `token:${ctx.oidc.params?.grant_type ?? 'unknown'}`;
  if (route === 'resume') return 'authorization_resume';
  return route;
}

export function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    adapter: StoreAdapter,
    jwks: { keys: keyring.keys },
    cookies: { keys: COOKIE_KEYS },
    clockTolerance: 0,
    conformIdTokenClaims: false,
    claims: SCOPE_CLAIMS,
    scopes: ['openid', 'offline_access'],
    extraParams: LOGTO_AUTH_PARAMS,
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      id_token_signed_response_alg: keyring.alg,
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    enabledJWA: {
      idTokenSigningAlgValues: SIGNING_ALGS,
      userinfoSigningAlgValues: SIGNING_ALGS,
      introspectionSigningAlgValues: SIGNING_ALGS,
      authorizationSigningAlgValues: ['ES384', 'RS256', 'ES256', 'PS256', 'EdDSA'],
    },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      // Signed userinfo (OIDC Core 5.3.2) for clients registered with userinfo_signed_response_alg.
      jwtUserinfo: { enabled: true },
      revocation: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo(_ctx, resource) {
          const scopes = resourceServerScopes(resource);
          if (!scopes) throw new errors.InvalidTarget();
          return {
            audience: resource,
            scope: scopes.join(' '),
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: keyring.alg } },
          };
        },
      },
    },
    extraTokenClaims(ctx, token) {
      const organizationId = ctx?.oidc?.params?.organization_id;
      if (
        organizationId && token.kind === 'AccessToken' && token.resourceServer
        && !token.aud?.startsWith(ORGANIZATION_AUDIENCE_PREFIX)
      ) {
        return { organization_id: organizationId };
      }
      return undefined;
    },
    rotateRefreshToken: () => rotation.enabled,
    ttl: {
      AccessToken: () => ttl.AccessToken,
      AuthorizationCode: () => ttl.AuthorizationCode,
      IdToken: () => ttl.IdToken,
      RefreshToken: () => ttl.RefreshToken,
      Session: () => ttl.Session,
      Grant: () => ttl.Grant,
      Interaction: () => ttl.Interaction,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount,
    fetch: fetchAllowingLoopback,
    renderError,
  });

  installOrganizationGrant(provider, { alg: () => keyring.alg });

  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      const key = routeKey(ctx);
      if (key) count(key);
      if (key === 'jwks') ctx.set('Cache-Control', 'no-cache');
    }
  });

  for (const event of ['server_error', 'backchannel.error']) {
    provider.on(event, (...args) => {
      const error = args.find((arg) => arg instanceof Error);
      console.error(`[provider] ${event}:`, error ?? args);
    });
  }
  return provider;
}
