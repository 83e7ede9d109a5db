// A tiny sign-in page (username + password), and an automatic consent step: Logto treats
// first-party apps as consented, so the consent prompt grants what was asked and returns.
import { LOGTO_AUTH_PARAMS } from './provider.mjs';
import {
  SCOPE_CLAIMS, allowedResourceScopes, checkPassword, resourceServerScopes, userBySub,
} from './users.mjs';

const OIDC_SCOPES = new Set(['offline_access', ...Object.keys(SCOPE_CLAIMS)]);

const escape = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

function send(res, status, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(html);
}

function loginPage({ uid, params, clientName, error, demo, username }) {
  const signUp = params.interaction_mode === 'signUp' || params.first_screen === 'register';
  const title = signUp ? 'Create account' : 'Sign in';
  const extras = [...LOGTO_AUTH_PARAMS, 'login_hint', 'ui_locales', 'prompt']
    .filter((name) => params[name] !== undefined)
    .map((name) => `<dt>${name}</dt><dd data-param="${name}">${escape(params[name])}</dd>`)
    .join('');
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${title}</title></head>
<body>
<h1>${title}</h1>
<p>to continue to <strong id="client">${escape(clientName)}</strong></p>
${error ? `<p id="error" role="alert">${escape(error)}</p>` : ''}
${demo ? '<p id="demo-hint">Demo account: <code>demo</code> / <code>demo-password</code></p>' : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
  <label>Username <input name="username" value="${escape(username)}" autofocus required></label>
  <label>Password <input name="password" type="password" required></label>
  <button type="submit" id="sign-in">${title}</button>
</form>
${extras ? `<dl id="logto-params">${extras}</dl>` : ''}
</body></html>`;
}

async function autoConsent(provider, req, res, interaction) {
  const { params, session: { accountId }, grantId } = interaction;
  const user = userBySub(accountId);
  const grant = (grantId && await provider.Grant.find(grantId))
    || new provider.Grant({ accountId, clientId: params.client_id });

  const requested = String(params.scope ?? '').split(' ').filter(Boolean);
  const resources = [params.resource ?? []].flat();

  grant.addOIDCScope(requested.filter((scope) => OIDC_SCOPES.has(scope)).join(' '));
  const { details } = interaction.prompt;
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const resource of resources) {
    const known = new Set(resourceServerScopes(resource) ?? []);
    const allowed = new Set(allowedResourceScopes(user, resource));
    const asked = requested.filter((scope) => known.has(scope));
    grant.addResourceScope(resource, asked.filter((scope) => allowed.has(scope)).join(' '));
    const refused = asked.filter((scope) => !allowed.has(scope));
    if (refused.length) grant.rejectResourceScope(resource, refused.join(' '));
  }
  const savedGrantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId: savedGrantId } }, {
    mergeWithLastSubmission: true,
  });
}

/** Handles /interaction/:uid (GET) and /interaction/:uid/login (POST). */
export async function handleInteraction(provider, req, res, pathname, { demo }) {
  const match = /^\/interaction\/([^/]+)(\/login)?$/.exec(pathname);
  if (!match) return send(res, 404, '<h1>Not found</h1>');
  const [, uid, login] = match;

  let interaction;
  try {
    interaction = await provider.interactionDetails(req, res);
  } catch (error) {
    return send(res, 400, `<h1>Sign-in expired</h1><p>${escape(error.message)}</p>`);
  }
  if (interaction.uid !== uid) {
    return send(res, 400, '<h1>Sign-in expired</h1><p>interaction mismatch</p>');
  }
  const { params, prompt } = interaction;
  const client = await provider.Client.find(params.client_id);
  const clientName = client?.clientName || params.client_id;

  if (req.method === 'GET' && !login) {
    if (prompt.name === 'consent') return autoConsent(provider, req, res, interaction);
    return send(res, 200, loginPage({
      uid, params, clientName, demo, username: params.login_hint,
    }));
  }

  if (req.method === 'POST' && login) {
    const form = await readForm(req);
    const user = checkPassword(form.username, form.password);
    if (!user) {
      return send(res, 200, loginPage({
        uid, params, clientName, demo, username: form.username,
        error: 'Invalid username or password.',
      }));
    }
    return provider.interactionFinished(req, res, {
      login: { accountId: user.sub },
    }, { mergeWithLastSubmission: false });
  }
  return send(res, 405, '<h1>Method not allowed</h1>');
}
