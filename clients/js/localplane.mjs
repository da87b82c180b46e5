// Starts and stops a localplane server for a node:test suite.
//
//   <bin> serve --listen 127.0.0.1:<free port> --ephemeral --timing fast
//
// startLocalplane({ timing: 'manual', args: ['--admin-token', 't'] }) picks another timing profile
// and adds serve flags (such a suite needs its own server: it is never attached to an external one).
//
// The binary is $LOCALPLANE_BIN or <repo>/target/debug/localplane. Set
// LOCALPLANE_ENDPOINT=http://127.0.0.1:4566 to use a server that is already
// running instead (nothing is started or stopped then).
//
// adminRequest / addFault / removeFault call the admin API (/_localplane/...).

import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, openSync, readFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const REGION = 'us-east-1';
// A 12-digit access key id is used by localplane as the caller's account id.
export const ACCOUNT = '123456789012';
export const CREDENTIALS = { accessKeyId: ACCOUNT, secretAccessKey: 'localplane-test-secret' };

// Node 20 is supported by the pinned SDK; its notice about future versions is only noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_BIN = join(REPO_ROOT, 'target', 'debug', 'localplane');
const STARTUP_TIMEOUT_MS = 30_000;

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function health(endpoint) {
  try {
    const res = await fetch(`${endpoint}/_localplane/health`, { signal: AbortSignal.timeout(2000) });
    if (res.status !== 200) return null;
    return await res.json();
  } catch {
    return null;
  }
}

/** Starts localplane (or attaches to $LOCALPLANE_ENDPOINT); resolves to {endpoint, stop(), logTail()}. */
export async function startLocalplane({ timing = 'fast', args: extra = [] } = {}) {
  const external = process.env.LOCALPLANE_ENDPOINT;
  if (external && timing === 'fast' && extra.length === 0) {
    const endpoint = external.replace(/\/+$/, '');
    if (!(await health(endpoint))) throw new Error(`LOCALPLANE_ENDPOINT=${endpoint} does not answer /_localplane/health`);
    return { endpoint, stop: async () => {}, logTail: () => '(external server)' };
  }

  const bin = process.env.LOCALPLANE_BIN || DEFAULT_BIN;
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`localplane binary not found at ${bin}: build it with \`cargo build --bin localplane\` or set LOCALPLANE_BIN`);
  }

  const workdir = mkdtempSync(join(tmpdir(), 'localplane-js-'));
  const logPath = join(workdir, 'server.log');
  const logFd = openSync(logPath, 'w');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--ephemeral', '--timing', timing, ...extra];
  const child = spawn(bin, args, { cwd: workdir, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  let exited = null;
  const exitPromise = new Promise((ok) => child.once('exit', (code, signal) => { exited = { code, signal }; ok(); }));
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '(no server log)';
    }
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let doc = null;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`localplane exited (${JSON.stringify(exited)}) during startup:\n${logTail()}`);
    doc = await health(endpoint);
    if (doc) break;
    await sleep(100);
  }
  if (!doc) {
    child.kill('SIGKILL');
    throw new Error(`localplane did not become healthy within ${STARTUP_TIMEOUT_MS} ms:\n${logTail()}`);
  }
  if (doc.status !== 'ok' || !('version' in doc)) throw new Error(`unexpected health document ${JSON.stringify(doc)}`);

  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exitPromise;
    clearTimeout(timer);
  };
  return { endpoint, stop, logTail };
}

/**
 * Calls localplane's admin API (`/_localplane/...`), which no AWS client knows about.
 * Resolves to {status, body} (body parsed as JSON, or null when empty).
 */
export async function adminRequest(endpoint, method, path, doc) {
  const res = await fetch(`${endpoint}${path}`, {
    method,
    headers: doc === undefined ? {} : { 'content-type': 'application/json' },
    body: doc === undefined ? undefined : JSON.stringify(doc),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * Installs a fault rule (`POST /_localplane/faults`) and resolves to its id; throws unless 2xx.
 * Delete a rule that may still be unused with `removeFault(endpoint, id)` (404 once used up).
 */
export async function addFault(endpoint, rule) {
  const { status, body } = await adminRequest(endpoint, 'POST', '/_localplane/faults', rule);
  if (status < 200 || status >= 300) throw new Error(`POST /_localplane/faults ${JSON.stringify(rule)} -> ${status} ${JSON.stringify(body)}`);
  return body.id;
}

export async function removeFault(endpoint, id) {
  return (await adminRequest(endpoint, 'DELETE', `/_localplane/faults/${encodeURIComponent(id)}`)).status;
}
