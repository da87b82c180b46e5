// The web console (/_localplane/ui) in headless Chromium (Debian's `chromium`, driven by
// playwright-core): a server with `--timing manual` and an admin token; resources made with the AWS
// SDK for JavaScript v3 appear on the page, operations are advanced from the page and finish, a
// fault rule added from the page rolls a connector update back, the timing profile, snapshot
// export and reset work from the page, and the browser console shows no error. A second suite
// checks that the console's endpoints refuse cross-origin requests and need the admin token.
//
// CONSOLE_SCREENSHOTS=DIR saves screenshots there (scripts/console-screenshots writes docs/).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { accessSync, constants, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ServiceDiscovery } from '@aws-sdk/client-servicediscovery';
import { KafkaConnect } from '@aws-sdk/client-kafkaconnect';
import { RAM } from '@aws-sdk/client-ram';
import { chromium } from 'playwright-core';
import { ACCOUNT, CREDENTIALS, REGION, startLocalplane } from './localplane.mjs';

const TOKEN = 'console-test-token';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = process.env.CONSOLE_SCREENSHOTS;
const WAIT = { timeout: 15_000 };

let server;
before(async () => {
  server = await startLocalplane({ timing: 'manual', args: ['--admin-token', TOKEN] });
});
after(async () => {
  await server?.stop();
});

const sdkOptions = () => ({
  region: REGION,
  endpoint: server.endpoint,
  credentials: CREDENTIALS,
  disableHostPrefix: true,
  maxAttempts: 1,
});

/** An admin call with the token; resolves to the parsed body, throws unless 2xx. */
async function admin(method, path, doc) {
  const res = await fetch(`${server.endpoint}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(doc ? { 'content-type': 'application/json' } : {}) },
    body: doc ? JSON.stringify(doc) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Runs every unfinished operation to its end through the admin API (setup, not under test). */
async function settle() {
  const { operations } = await admin('GET', '/_localplane/operations');
  for (const op of operations.filter((o) => !o.terminal)) {
    await admin('POST', `/_localplane/operations/${encodeURIComponent(op.id)}/advance?until=terminal`);
  }
}

/** An operation's state and step states as the page shows them (to wait for a step to move). */
function signature(page, id) {
  return page.evaluate((opId) => {
    const li = document.querySelector(`li[data-op-id="${CSS.escape(opId)}"]`);
    return li ? [li.dataset.state, ...[...li.querySelectorAll('.step-state')].map((s) => s.textContent)].join(' ') : '';
  }, id);
}

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name), fullPage: false });
}

describe('web console in headless Chromium', () => {
  let browser;
  let page;
  const errors = [];
  const sd = () => new ServiceDiscovery(sdkOptions());
  const kc = () => new KafkaConnect(sdkOptions());
  const story = {};

  before(async () => {
    try {
      accessSync(CHROMIUM, constants.X_OK);
    } catch {
      throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (scripts/test does) or set CHROMIUM_PATH`);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') errors.push(`${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  });
  after(async () => {
    await browser?.close();
  });

  test('the page asks for the admin token, refuses a wrong one and goes live with the right one', async () => {
    await page.goto(`${server.endpoint}/_localplane/ui`);
    const tokenField = page.getByLabel('Admin token');
    await tokenField.waitFor(WAIT);
    assert.equal(errors.length, 0, `nothing was called before the token: ${errors.join('\n')}`);
    await tokenField.fill('not-the-token');
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.getByText('The server refused this token.').waitFor(WAIT);
    // The refused call is the one error the browser logs here (a 401 resource load).
    assert.ok(errors.every((e) => e.includes('401')), errors.join('\n'));
    errors.length = 0;
    await tokenField.fill(TOKEN);
    await tokenField.press('Enter');
    await page.locator('#status[data-kind="live"]').waitFor(WAIT);
    await page.getByText('Nothing in flight.').waitFor(WAIT);
    await page.getByText('No resources yet.').waitFor(WAIT);
  });

  test('a namespace made with the SDK appears, and is advanced from the page step by step, then to its end', async () => {
    const { OperationId } = await sd().createHttpNamespace({ Name: 'console-demo', Description: 'made by the console test' });
    const op = page.locator(`#in-flight li[data-op-id="${OperationId}"]`);
    await op.waitFor(WAIT);
    assert.match(await op.locator('.op-type').textContent(), /CREATE_NAMESPACE/);
    const ns = page.locator('#resources .kind-namespace', { hasText: 'console-demo' });
    await ns.waitFor(WAIT);
    assert.equal(await ns.getAttribute('data-state'), 'CREATING');
    const before = await op.locator('.step .step-state').allTextContents();
    // With the keyboard: focus the button and press Enter.
    await op.getByRole('button', { name: /one step/ }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      ([id, was]) => {
        const li = document.querySelector(`#in-flight li[data-op-id="${id}"]`);
        return li && JSON.stringify([...li.querySelectorAll('.step .step-state')].map((s) => s.textContent)) !== was;
      },
      [OperationId, JSON.stringify(before)],
      WAIT,
    );
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Advance one step', 'the focus stays on the button');
    await op.getByRole('button', { name: /to its end/ }).click();
    const done = page.locator(`#recent li[data-op-id="${OperationId}"][data-state="SUCCESS"]`);
    await done.waitFor(WAIT);
    assert.deepEqual(await done.locator('.step .step-state').allTextContents(), ['COMPLETED', 'COMPLETED', 'COMPLETED']);
    assert.ok((await done.locator('.step-time').last().textContent()).includes('→'), 'the last step has its times');
    await page.locator('#resources .kind-namespace[data-state="ACTIVE"]', { hasText: 'console-demo' }).waitFor(WAIT);
    const { Operation } = await sd().getOperation({ OperationId });
    assert.equal(Operation.Status, 'SUCCESS', 'the SDK sees what the page did');
    story.nsId = Operation.Targets.NAMESPACE;
  });

  test('services and instances appear in the tree with their health', async () => {
    const { Service } = await sd().createService({ Name: 'checkout', NamespaceId: story.nsId, HealthCheckCustomConfig: { FailureThreshold: 1 } });
    await sd().registerInstance({ ServiceId: Service.Id, InstanceId: 'i-web-1', Attributes: { AWS_INSTANCE_IPV4: '10.0.0.7', AWS_INSTANCE_PORT: '8080' } });
    await page.locator('#in-flight li[data-state]', { hasText: 'REGISTER_INSTANCE' }).waitFor(WAIT);
    await settle();
    const instance = page.locator('#resources .kind-service', { hasText: 'checkout' }).locator('.kind-instance', { hasText: 'i-web-1' });
    await instance.waitFor(WAIT);
    assert.equal(await instance.getAttribute('data-state'), 'HEALTHY');
    assert.match(await instance.textContent(), /ipv4 10\.0\.0\.7 · port 8080/);
    await shot(page, 'console-overview.png');
  });

  test('a resource share appears with its resource and principal', async () => {
    const ram = new RAM(sdkOptions());
    const nsArn = `arn:aws:servicediscovery:${REGION}:${ACCOUNT}:namespace/${story.nsId}`;
    const { resourceShare } = await ram.createResourceShare({ name: 'console-share', resourceArns: [nsArn], principals: ['999999999999'] });
    await settle();
    const share = page.locator(`#resources [data-resource-id="${resourceShare.resourceShareArn}"][data-state="ACTIVE"]`);
    await share.waitFor(WAIT);
    await share.locator(`.kind-shared-resource[data-resource-id="${nsArn}"][data-state="ASSOCIATED"]`).waitFor(WAIT);
    // The principal waits for its invitation to be accepted.
    await share.locator('.kind-principal[data-resource-id="999999999999"][data-state="ASSOCIATING"]').waitFor(WAIT);
  });

  test('a fault rule added from the page rolls a connector update back, shown as a rollback', async () => {
    const { customPluginArn } = await kc().createCustomPlugin({
      name: 'console-plugin',
      contentType: 'ZIP',
      location: { s3Location: { bucketArn: 'arn:aws:s3:::my-bucket', fileKey: 'plugins/p.zip' } },
    });
    await settle();
    const { connectorArn } = await kc().createConnector({
      connectorName: 'console-cdc',
      capacity: { provisionedCapacity: { mcuCount: 1, workerCount: 1 } },
      connectorConfiguration: { 'connector.class': 'io.debezium.connector.postgresql.PostgresConnector', 'tasks.max': '1' },
      kafkaCluster: { apacheKafkaCluster: { bootstrapServers: 'b-1.kafka:9092', vpc: { subnets: ['subnet-0a1b2c3d'], securityGroups: ['sg-0123abcd'] } } },
      kafkaClusterClientAuthentication: { authenticationType: 'NONE' },
      kafkaClusterEncryptionInTransit: { encryptionType: 'PLAINTEXT' },
      kafkaConnectVersion: '2.7.1',
      serviceExecutionRoleArn: `arn:aws:iam::${ACCOUNT}:role/msk-connect`,
      plugins: [{ customPlugin: { customPluginArn, revision: 1 } }],
    });
    await settle();
    const connector = page.locator(`#resources [data-resource-id="${connectorArn}"]`);
    await connector.waitFor(WAIT);
    await page.locator(`#resources [data-resource-id="${connectorArn}"][data-state="RUNNING"]`).waitFor(WAIT);
    await page.locator(`#resources [data-resource-id="${customPluginArn}"][data-state="ACTIVE"]`).waitFor(WAIT);

    await page.getByRole('link', { name: 'Fault rules' }).click();
    assert.match(page.url(), /#\/faults$/);
    const form = page.locator('#fault-form');
    await form.getByLabel('Service').selectOption('kafkaconnect');
    await form.getByLabel('Operation type').fill('UPDATE_CONNECTOR_CONFIGURATION');
    await form.getByLabel('Step').fill('VALIDATE_UPDATE');
    await form.getByLabel('Error code').fill('InjectedFailure');
    await form.getByLabel('Error message').fill('injected from the console');
    await form.getByLabel('Rollback').selectOption('complete');
    await form.getByLabel('Resource (ARN or id)').fill(connectorArn);
    await form.getByRole('button', { name: 'Add fault rule' }).click();
    await page.locator('#faults li[data-fault-id]', { hasText: 'InjectedFailure' }).waitFor(WAIT);
    await shot(page, 'console-faults.png');

    const { currentVersion } = await kc().describeConnector({ connectorArn });
    const { connectorOperationArn } = await kc().updateConnector({
      connectorArn,
      currentVersion,
      connectorConfiguration: { 'connector.class': 'io.debezium.connector.postgresql.PostgresConnector', 'tasks.max': '2' },
    });
    await page.goto(`${server.endpoint}/_localplane/ui#/operations`);
    const op = page.locator(`#in-flight li[data-op-id="${connectorOperationArn}"]`);
    await op.waitFor(WAIT);
    assert.deepEqual(await op.locator('.step-name').allTextContents(),
      ['INITIALIZE_UPDATE', 'UPDATE_CONNECTOR_CONFIGURATION', 'VALIDATE_UPDATE', 'FINALIZE_UPDATE']);
    // One step at a time until the rollback is under way: it shows as a rollback while in flight.
    const rollingBack = page.locator(`#in-flight li.rollback[data-op-id="${connectorOperationArn}"][data-state="ROLLBACK_IN_PROGRESS"]`);
    const seen = [];
    for (let i = 0; i < 8 && !(await rollingBack.count()); i++) {
      seen.push(await op.getAttribute('data-state'));
      const was = await signature(page, connectorOperationArn);
      await op.getByRole('button', { name: /one step/ }).click();
      await page.waitForFunction(([opId, before]) => {
        const li = document.querySelector(`li[data-op-id="${CSS.escape(opId)}"]`);
        const now = li ? [li.dataset.state, ...[...li.querySelectorAll('.step-state')].map((x) => x.textContent)].join(' ') : '';
        return now !== before;
      }, [connectorOperationArn, was], WAIT);
    }
    await rollingBack.waitFor(WAIT);
    assert.ok(seen.includes('UPDATE_IN_PROGRESS'), JSON.stringify(seen));
    assert.equal(await rollingBack.locator('.rollback-badge').textContent(), 'rollback');
    await shot(page, 'console-rollback.png');
    await rollingBack.getByRole('button', { name: /to its end/ }).click();
    const rolledBack = page.locator(`#recent li.rollback[data-op-id="${connectorOperationArn}"][data-state="ROLLBACK_COMPLETE"]`);
    await rolledBack.waitFor(WAIT);
    assert.equal(await rolledBack.locator('.rollback-badge').textContent(), 'rollback');
    assert.deepEqual(await rolledBack.locator('.step .step-state').allTextContents(), ['COMPLETED', 'COMPLETED', 'FAILED', 'CANCELLED']);
    assert.match(await rolledBack.locator('.error-code').textContent(), /InjectedFailure/);
    const { connectorOperationState } = await kc().describeConnectorOperation({ connectorOperationArn });
    assert.equal(connectorOperationState, 'ROLLBACK_COMPLETE');
    // The rule was used up: the page's list empties.
    await page.goto(`${server.endpoint}/_localplane/ui#/faults`);
    await page.getByText('No fault rules.').waitFor(WAIT);
  });

  test('a fault rule is removed from the page', async () => {
    const { id } = await admin('POST', '/_localplane/faults', { service: 'servicediscovery', operationType: 'CREATE_NAMESPACE', errorCode: 'CANNOT_CREATE_HOSTED_ZONE' });
    const rule = page.locator(`#faults li[data-fault-id="${id}"]`);
    await rule.waitFor(WAIT);
    await rule.getByRole('button', { name: `Remove fault rule ${id}` }).click();
    await rule.waitFor({ state: 'detached', ...WAIT });
    assert.deepEqual((await admin('GET', '/_localplane/faults')).faults, []);
  });

  test('the timing profile is switched, a snapshot exported and everything reset from the page', async () => {
    await page.getByRole('link', { name: 'Timing & state' }).click();
    await page.getByLabel('Timing profile').selectOption('fast');
    await page.getByRole('button', { name: 'Set timing' }).click();
    await page.getByText('Timing set to fast: done.').waitFor(WAIT);
    assert.equal((await admin('GET', '/_localplane/timing')).profile, 'fast');
    await page.getByText('Timing: fast.').waitFor({ state: 'attached', ...WAIT });
    await page.getByLabel('Timing profile').selectOption('manual');
    await page.getByRole('button', { name: 'Set timing' }).click();
    await page.getByText('Timing set to manual: done.').waitFor(WAIT);
    assert.equal((await admin('GET', '/_localplane/timing')).profile, 'manual');

    const downloading = page.waitForEvent('download', WAIT);
    await page.getByRole('button', { name: 'Export snapshot' }).click();
    const download = await downloading;
    const snapshot = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert.ok(JSON.stringify(snapshot).includes('console-demo'), 'the snapshot holds the namespace');

    await page.getByRole('button', { name: 'Reset…' }).click();
    await page.getByRole('button', { name: 'Yes, delete everything' }).click();
    await page.getByText('Reset every service: done.').waitFor(WAIT);
    await page.goto(`${server.endpoint}/_localplane/ui#/`);
    await page.getByText('No resources yet.').waitFor(WAIT);
    assert.deepEqual((await sd().listNamespaces({})).Namespaces, []);
  });

  test('every view has its URL and the page fits a narrow window', async () => {
    for (const [hash, visible, hidden] of [
      ['#/operations', '#operations-view', '#resources-view'],
      ['#/resources', '#resources-view', '#operations-view'],
      ['#/faults', '#faults-view', '#settings-view'],
      ['#/settings', '#settings-view', '#faults-view'],
      ['#/', '#operations-view', '#faults-view'],
    ]) {
      await page.goto(`${server.endpoint}/_localplane/ui${hash}`);
      await page.locator(visible).waitFor({ state: 'visible', ...WAIT });
      assert.equal(await page.locator(hidden).isVisible(), false, `${hidden} on ${hash}`);
    }
    // An operation has its own URL, reached from its heading.
    await page.goto(`${server.endpoint}/_localplane/ui#/operations`);
    const { OperationId } = await sd().createHttpNamespace({ Name: 'permalink' });
    const other = (await sd().createHttpNamespace({ Name: 'permalink-other' })).OperationId;
    await page.locator(`li[data-op-id="${other}"]`).waitFor(WAIT);
    await page.locator(`li[data-op-id="${OperationId}"] h4 a`).click();
    assert.equal(new URL(page.url()).hash, `#/operations/${encodeURIComponent(OperationId)}`);
    await page.reload();
    await page.locator(`li[data-op-id="${OperationId}"]`).waitFor(WAIT);
    assert.equal(await page.locator('li.operation').count(), 1, 'only that operation');
    await page.getByRole('link', { name: 'All operations' }).click();
    await page.locator(`li[data-op-id="${other}"]`).waitFor(WAIT);

    await page.setViewportSize({ width: 380, height: 800 });
    await page.goto(`${server.endpoint}/_localplane/ui#/settings`);
    await page.locator('#settings-view').waitFor({ state: 'visible', ...WAIT });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 380px`);
    await shot(page, 'console-narrow.png');
  });

  test('the browser console shows no error', () => {
    assert.deepEqual(errors, []);
  });
});

/** A raw HTTP GET (node:http, so that Host and Origin go as given); resolves to {status, body}. */
function rawGet(path, headers) {
  const url = new URL(server.endpoint);
  return new Promise((ok, fail) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
        // The event stream never ends: its first event is enough.
        if (body.includes('\n\n')) res.destroy();
      });
      res.on('close', () => ok({ status: res.statusCode, body, type: res.headers['content-type'], headers: res.headers }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe("the console's endpoints and the admin protections", () => {
  const data = ['/_localplane/resources', '/_localplane/events'];
  const page = ['/_localplane/ui', '/_localplane/ui/console.js', '/_localplane/ui/console.css'];
  const host = () => new URL(server.endpoint).host;
  const bearer = { authorization: `Bearer ${TOKEN}` };

  test('a cross-origin request is refused, with or without the token', async () => {
    for (const path of [...data, ...page]) {
      const r = await rawGet(path, { host: host(), origin: 'http://evil.example', ...bearer });
      assert.equal(r.status, 403, `${path}: ${r.body}`);
      assert.match(r.body, /cross-origin/);
    }
  });

  test('a foreign Host (DNS rebinding) is refused', async () => {
    for (const path of [...data, ...page]) {
      const r = await rawGet(path, { host: 'evil.example', ...bearer });
      assert.equal(r.status, 403, `${path}: ${r.body}`);
    }
  });

  test('the data needs the admin token; the page itself does not, and cannot be framed', async () => {
    for (const path of data) {
      assert.equal((await rawGet(path, { host: host() })).status, 401, path);
      assert.equal((await rawGet(path, { host: host(), authorization: 'Bearer wrong' })).status, 401, path);
      const ok = await rawGet(path, { host: host(), origin: `http://${host()}`, ...bearer });
      assert.equal(ok.status, 200, `${path}: ${ok.body}`);
    }
    const events = await rawGet('/_localplane/events', { host: host(), ...bearer });
    assert.equal(events.type, 'text/event-stream');
    assert.match(events.body, /^retry: 2000\n\n/);
    const ui = await rawGet('/_localplane/ui', { host: host() });
    assert.equal(ui.status, 200);
    assert.match(ui.body, /<meta name="localplane-admin-token" content="required">/);
    assert.equal(ui.headers['x-frame-options'], 'DENY');
    assert.match(ui.headers['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal((await rawGet('/_localplane/ui/missing.js', { host: host() })).status, 401, 'no file: an admin path like any other');
  });
});
