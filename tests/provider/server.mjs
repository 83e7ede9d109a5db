#!/usr/bin/env node
// Test OpenID Provider for logto-asgi: oidc-provider set up like Logto, mounted at /oidc.
//
//   node tests/provider/server.mjs --port 0 [--host 127.0.0.1] [--clients clients.json] [--demo]
//
// Prints exactly one line to stdout once listening: "READY http://<host>:<port>".
// Everything else (logs, warnings) goes to stderr.
import './quiet.mjs'; // must stay the first import

import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import { AdminError, handleAdmin, registerClient } from './admin.mjs';
import { handleInteraction } from './interactions.mjs';
import { buildProvider } from './provider.mjs';
import { count } from './state.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    clients: { type: 'string' },
    demo: { type: 'boolean', default: false },
  },
});

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new AdminError(400, 'request body is not JSON');
  }
}

function indexPage(base) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Test OpenID Provider</title></head>
<body><h1>Test OpenID Provider</h1>
<p>Issuer: <code>${base}/oidc</code></p>
<p>Discovery: <a href="/oidc/.well-known/openid-configuration">/oidc/.well-known/openid-configuration</a></p>
${args.demo ? '<p>Demo account: <code>demo</code> / <code>demo-password</code></p>' : ''}
</body></html>`;
}

function start() {
  const app = { provider: undefined, callback: undefined, base: undefined };
  app.rebuild = () => {
    app.provider = buildProvider(`${app.base}/oidc`);
    app.callback = app.provider.callback();
  };

  const server = http.createServer(async (req, res) => {
    const { pathname } = new URL(req.url, 'http://localhost');
    try {
      if (pathname === '/oidc' || pathname.startsWith('/oidc/')) {
        req.originalUrl = req.url;
        req.url = req.url.slice('/oidc'.length) || '/';
        return await app.callback(req, res);
      }
      if (pathname.startsWith('/interaction/')) {
        count('interaction');
        return await handleInteraction(app.provider, req, res, pathname, { demo: args.demo });
      }
      if (pathname.startsWith('/__test__/')) {
        const body = req.method === 'POST' ? await readJson(req) : undefined;
        const [status, result] = await handleAdmin(app, req.method, pathname, body);
        return json(res, status, result);
      }
      if (pathname === '/' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(indexPage(app.base));
      }
      return json(res, 404, { error: 'not_found' });
    } catch (error) {
      if (error instanceof AdminError) return json(res, error.status, { error: error.message });
      console.error('[server] unhandled error', error);
      if (!res.headersSent) return json(res, 500, { error: String(error?.message ?? error) });
      return res.end();
    }
  });

  server.listen(Number(args.port), args.host, async () => {
    const { port } = server.address();
    app.base = `http://${args.host}:${port}`;
    app.rebuild();
    if (args.clients) {
      const clients = JSON.parse(readFileSync(args.clients, 'utf8'));
      for (const client of clients) await registerClient(app.provider, client);
    }
    process.stdout.write(`READY ${app.base}\n`);
  });

  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      server.close();
      server.closeAllConnections();
      process.exit(0);
    });
  }
}

start();
