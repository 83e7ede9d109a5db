// Logto's organization token (RFC 0001 in Logto's docs): the refresh_token grant accepts an
// extra `organization_id`. oidc-provider has no hook for it, so the registered refresh_token
// handler is replaced by a wrapper around oidc-provider's own handler.
import { errors } from 'oidc-provider';
import { handler as refreshTokenHandler, parameters } from 'oidc-provider/lib/actions/grants/refresh_token.js';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';

import {
  ORGANIZATION_AUDIENCE_PREFIX, ORGANIZATIONS_SCOPE, isMember, organizationScopes, userBySub,
} from './users.mjs';

function forbidden(ErrorClass, description) {
  const error = new ErrorClass(description);
  error.status = 403;
  error.statusCode = 403;
  return error;
}

/** Checks scope and membership before the refresh token rotates (as Logto does). */
async function checkOrganizationAccess(provider, ctx, organizationId) {
  const refreshToken = await provider.RefreshToken.find(
    ctx.oidc.params.refresh_token,
    { ignoreExpiration: true },
  );
  // An unknown, expired, foreign or consumed token: let the original handler fail it (a
  // consumed one then revokes the whole grant).
  if (
    !refreshToken || refreshToken.clientId !== ctx.oidc.client.clientId
    || refreshToken.isExpired || refreshToken.consumed
  ) {
    return false;
  }
  if (!refreshToken.scopes.has(ORGANIZATIONS_SCOPE)) {
    throw new errors.InsufficientScope('refresh token missing required scope', ORGANIZATIONS_SCOPE);
  }
  if (!isMember(userBySub(refreshToken.accountId), organizationId)) {
    throw forbidden(errors.AccessDenied, 'user is not a member of the organization');
  }
  return true;
}

export function installOrganizationGrant(provider, { alg }) {
  const helpers = Object.fromEntries(
    Object.entries(grantHelpers).map(([name, helper]) => [name, helper.bind(undefined, provider)]),
  );
  const original = refreshTokenHandler.bind(undefined, provider, helpers);

  async function refreshTokenWithOrganization(ctx) {
    const organizationId = ctx.oidc.params.organization_id;
    if (!organizationId) return original(ctx);

    if (!await checkOrganizationAccess(provider, ctx, organizationId)) return original(ctx);

    // resource + organization_id: an ordinary resource token; extraTokenClaims adds
    // the organization_id claim.
    if (ctx.oidc.params.resource) return original(ctx);

    // The requested scopes are organization scopes, not refresh token scopes: keep them away
    // from the original handler (it would answer invalid_scope).
    const requested = ctx.oidc.params.scope;
    ctx.oidc.params.scope = undefined;
    try {
      await original(ctx); // rotates the refresh token, builds the response, id_token included
    } finally {
      ctx.oidc.params.scope = requested;
    }

    const { RefreshToken: refreshToken, AccessToken: opaque } = ctx.oidc.entities;
    await opaque?.destroy(); // the audience-less token the original handler made is not handed out

    const available = organizationScopes(userBySub(refreshToken.accountId), organizationId);
    const wanted = requested ? new Set(requested.split(' ')) : undefined;
    const issued = wanted ? available.filter((scope) => wanted.has(scope)) : available;

    const audience = `${ORGANIZATION_AUDIENCE_PREFIX}${organizationId}`;
    const at = new provider.AccessToken({
      accountId: refreshToken.accountId,
      client: ctx.oidc.client,
      expiresWithSession: refreshToken.expiresWithSession,
      grantId: refreshToken.grantId,
      gty: 'refresh_token',
      sessionUid: refreshToken.sessionUid,
      sid: refreshToken.sid,
    });
    at.resourceServer = new provider.ResourceServer(audience, {
      audience,
      scope: available.join(' '),
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: alg() } },
    });
    at.scope = issued.join(' ');
    ctx.oidc.entity('AccessToken', at);
    const value = await at.save();

    ctx.body = {
      ...ctx.body,
      access_token: value,
      expires_in: at.expiration,
      scope: at.scope,
      token_type: at.tokenType,
    };
  }

  provider.registerGrantType(
    'refresh_token',
    refreshTokenWithOrganization,
    new Set([...parameters, 'resource', 'organization_id']),
    new Set(['resource']),
  );
}
