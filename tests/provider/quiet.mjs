// Imported first by server.mjs (ES modules evaluate in import order), before oidc-provider.
// stdout is reserved for the single "READY <url>" line the Python launcher waits for, so
// console.log/info (oidc-provider prints its "you SHOULD change" notices there) go to stderr,
// and the harmless notices plus the Node 20 "Unsupported runtime" warning are dropped.

const DROPPED = [/^oidc-provider NOTICE:/, /Unsupported runtime/];

function toStderr(...args) {
  const text = args.map(String).join(' ');
  if (DROPPED.some((pattern) => pattern.test(text))) return;
  process.stderr.write(`${text}\n`);
}

console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;
console.warn = toStderr;
