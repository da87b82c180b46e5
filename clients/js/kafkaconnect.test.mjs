// AWS MSK Connect (`kafkaconnect`, restJson1) through the AWS SDK for JavaScript v3,
// told as one user's story.
//
// A data team ships a Debezium change-data-capture connector: it uploads the
// plugin (a custom plugin), writes a worker configuration, creates the connector
// and waits for it to run. Then it changes the connector's configuration and
// watches the update through its connector operation step by step, scales the
// workers, pushes a broken configuration that fails validation and is rolled
// back, trips over a stale `currentVersion`, reads the operation history page by
// page, pauses and resumes the connector, tags it, meets the usual errors, and
// tears everything down. A second story injects a failure through localplane's
// fault API and watches a configuration update end ROLLBACK_FAILED.
//
// Steps of a story run in order and share `story`; a step that needs something
// an earlier (failed) step should have produced is skipped.
//
// Behaviour reference: shared/reference/kafkaconnect.md, examples.md §1-3.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaConnect, paginateListConnectorOperations } from '@aws-sdk/client-kafkaconnect';
import { ACCOUNT, CREDENTIALS, REGION, adminRequest, addFault, removeFault, startLocalplane } from './localplane.mjs';

const PREFIX = `arn:aws:kafkaconnect:${REGION}:${ACCOUNT}`;
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/msk-connect`;
const BUCKET_ARN = 'arn:aws:s3:::my-bucket';
const FILE_KEY = 'plugins/debezium.zip';
const CONNECTOR_CLASS = 'io.debezium.connector.postgresql.PostgresConnector';
const PROPERTIES = 'key.converter=org.apache.kafka.connect.storage.StringConverter\n';
const PROPERTIES_B64 = Buffer.from(PROPERTIES).toString('base64');

// {name}/{uuid v4}-{small integer}; operations: {connector name}/{connector uuid-n}/{uuid v4}.
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const RESOURCE_ID = `${UUID}-\\d+`;
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const arnPattern = (kind, name, id = RESOURCE_ID) => new RegExp(`^${escape(`${PREFIX}:${kind}/${name}/`)}${id}$`);

const POLL_INTERVAL_MS = 200;
const POLL_TIMEOUT_MS = 30_000;

const UPDATE_STEPS = {
  UPDATE_CONNECTOR_CONFIGURATION: ['INITIALIZE_UPDATE', 'UPDATE_CONNECTOR_CONFIGURATION', 'VALIDATE_UPDATE', 'FINALIZE_UPDATE'],
  UPDATE_WORKER_SETTING: ['INITIALIZE_UPDATE', 'UPDATE_WORKER_SETTING', 'VALIDATE_UPDATE', 'FINALIZE_UPDATE'],
};
// The order in which an operation's states may follow each other (kafkaconnect.md §4.2).
const OPERATION_STATE_RANK = {
  PENDING: 0,
  UPDATE_IN_PROGRESS: 1, PAUSE_IN_PROGRESS: 1, RESUME_IN_PROGRESS: 1, RESTART_IN_PROGRESS: 1,
  UPDATE_COMPLETE: 2, UPDATE_FAILED: 2, PAUSE_COMPLETE: 2, PAUSE_FAILED: 2,
  RESUME_COMPLETE: 2, RESUME_FAILED: 2, RESTART_COMPLETE: 2, RESTART_FAILED: 2,
  ROLLBACK_IN_PROGRESS: 3,
  ROLLBACK_COMPLETE: 4, ROLLBACK_FAILED: 4,
};
const STEP_STATE_RANK = { PENDING: 0, IN_PROGRESS: 1, COMPLETED: 2, FAILED: 2, CANCELLED: 2 };

let server;
before(async () => {
  server = await startLocalplane();
});
after(async () => {
  await server?.stop();
});

// ---------------------------------------------------------------------------- helpers

function kafkaConnect() {
  return new KafkaConnect({
    region: REGION,
    endpoint: server.endpoint,
    credentials: CREDENTIALS,
    disableHostPrefix: true,
    // Surface server errors as they are instead of retrying them.
    maxAttempts: 1,
  });
}

class Missing extends Error {}

/** A story: shared state, `need(...keys)` and `step(name, fn)`. */
function storyline() {
  const story = {};
  const need = (...keys) => {
    const missing = keys.filter((k) => !(k in story));
    if (missing.length) throw new Missing(`an earlier step did not produce ${missing.join(', ')}`);
    return keys.map((k) => story[k]);
  };
  const step = (name, fn) =>
    test(name, async (t) => {
      try {
        await fn(t);
      } catch (e) {
        if (e instanceof Missing) return t.skip(e.message);
        throw e;
      }
    });
  return { story, need, step };
}

const unique = (prefix) => `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 10)}`;

/** JSON round trip: plain objects for deep comparisons, without `$metadata`. */
const plain = (value) => {
  const copy = JSON.parse(JSON.stringify(value));
  if (copy && typeof copy === 'object') delete copy.$metadata;
  return copy;
};

/** Awaits a call that must fail with this error code and HTTP status; returns the error. */
async function expectError(promise, code, status) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${code}, but the call succeeded`);
  assert.equal(error.name, code, `expected ${code}, got ${error.name}: ${error.message}`);
  assert.equal(error.$metadata?.httpStatusCode, status, `${code} should be HTTP ${status}`);
  assert.ok(error.message, `${code} without a message`);
  assert.ok(error.$metadata?.requestId, 'x-amzn-RequestId missing on an error');
  return error;
}

/** Calls `fetch()` every 0.2 s until `done(result)`; resolves to {result, seen}. */
async function poll(fetch, done, what) {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  const seen = [];
  for (;;) {
    const result = await fetch();
    seen.push(result);
    if (done(result)) return { result, seen };
    assert.ok(Date.now() < deadline, `${what} not done after ${POLL_TIMEOUT_MS} ms; last: ${JSON.stringify(result)}`);
    await sleep(POLL_INTERVAL_MS);
  }
}

/** The values with consecutive repeats collapsed: [A, A, B, A] -> [A, B, A]. */
const distinct = (values) => values.filter((v, i) => i === 0 || values[i - 1] !== v);

async function waitPluginActive(kc, arn) {
  const { result, seen } = await poll(
    () => kc.describeCustomPlugin({ customPluginArn: arn }),
    (p) => p.customPluginState !== 'CREATING',
    `custom plugin ${arn}`,
  );
  assert.equal(result.customPluginState, 'ACTIVE', JSON.stringify(plain(result)));
  return { plugin: result, seen: distinct(seen.map((p) => p.customPluginState)) };
}

/** Polls DescribeConnector until the state is `want`; every other state seen must be in `transient`. */
async function waitConnector(kc, arn, want, transient) {
  const { result, seen } = await poll(
    () => kc.describeConnector({ connectorArn: arn }),
    (d) => {
      assert.ok([want, ...transient].includes(d.connectorState), `connector ${arn} went ${d.connectorState}`);
      return d.connectorState === want;
    },
    `connector ${arn} → ${want}`,
  );
  return { connector: result, seen: distinct(seen.map((d) => d.connectorState)) };
}

/** Polls DescribeConnector until NotFoundException; the connector must be DELETING until then. */
async function waitConnectorGone(kc, arn) {
  const { seen } = await poll(
    async () => {
      try {
        return (await kc.describeConnector({ connectorArn: arn })).connectorState;
      } catch (e) {
        assert.equal(e.name, 'NotFoundException', `${e.name}: ${e.message}`);
        assert.equal(e.$metadata.httpStatusCode, 404);
        return null;
      }
    },
    (state) => state === null,
    `deletion of connector ${arn}`,
  );
  assert.ok(seen.slice(0, -1).every((s) => s === 'DELETING'), JSON.stringify(seen));
}

/** Polls DescribeConnectorOperation until the operation has an endTime; resolves to {op, seen}.
 *
 * Checks on the way that the state never goes backwards, that the steps keep
 * their order and never go back, and that at most one step is IN_PROGRESS. */
async function waitOperation(kc, opArn) {
  const { result: op, seen } = await poll(
    () => kc.describeConnectorOperation({ connectorOperationArn: opArn }),
    (o) => o.endTime !== undefined,
    `connector operation ${opArn}`,
  );
  const ranks = seen.map((o) => OPERATION_STATE_RANK[o.connectorOperationState]);
  assert.deepEqual(ranks, [...ranks].sort(), `operation state went backwards: ${seen.map((o) => o.connectorOperationState)}`);
  for (let i = 1; i < seen.length; i++) {
    const before = seen[i - 1].operationSteps ?? [];
    const after = seen[i].operationSteps ?? [];
    assert.deepEqual(before.map((s) => s.stepType), after.map((s) => s.stepType));
    before.forEach((b, j) =>
      assert.ok(STEP_STATE_RANK[b.stepState] <= STEP_STATE_RANK[after[j].stepState], `step went back: ${b.stepType} ${b.stepState} → ${after[j].stepState}`),
    );
  }
  for (const o of seen) {
    assert.ok((o.operationSteps ?? []).filter((s) => s.stepState === 'IN_PROGRESS').length <= 1, JSON.stringify(plain(o)));
    assert.equal(o.connectorOperationArn, opArn);
    assert.ok(o.creationTime instanceof Date);
  }
  assert.ok(op.endTime instanceof Date && op.endTime >= op.creationTime, `${op.creationTime} → ${op.endTime}`);
  return { op, seen };
}

const steps = (op) => (op.operationSteps ?? []).map((s) => [s.stepType, s.stepState]);
const allCompleted = (type) => UPDATE_STEPS[type].map((t) => [t, 'COMPLETED']);

/** A complete CreateConnector request: one 1-MCU worker, `tasks.max` 1. */
function connectorRequest(name, pluginArn, overrides = {}) {
  return {
    connectorName: name,
    connectorDescription: 'orders database change data capture',
    capacity: { provisionedCapacity: { mcuCount: 1, workerCount: 1 } },
    connectorConfiguration: {
      'connector.class': CONNECTOR_CLASS,
      'tasks.max': '1',
      'database.hostname': 'orders-db.internal',
      'topic.prefix': 'orders',
    },
    kafkaCluster: {
      apacheKafkaCluster: {
        bootstrapServers: 'b-1.orders.kafka.us-east-1.amazonaws.com:9092,b-2.orders.kafka.us-east-1.amazonaws.com:9092',
        vpc: { subnets: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'], securityGroups: ['sg-0123abcd'] },
      },
    },
    kafkaClusterClientAuthentication: { authenticationType: 'NONE' },
    kafkaClusterEncryptionInTransit: { encryptionType: 'PLAINTEXT' },
    kafkaConnectVersion: '2.7.1',
    serviceExecutionRoleArn: ROLE_ARN,
    plugins: [{ customPlugin: { customPluginArn: pluginArn, revision: 1 } }],
    ...overrides,
  };
}

/** The same ARN with another (well-formed) id: parses, names nothing. */
const unknownArn = (arn) => `${arn.slice(0, arn.lastIndexOf('/'))}/00000000-0000-4000-8000-000000000000-2`;

async function createActivePlugin(kc, name) {
  const { customPluginArn } = await kc.createCustomPlugin({
    name,
    contentType: 'ZIP',
    location: { s3Location: { bucketArn: BUCKET_ARN, fileKey: FILE_KEY } },
  });
  await waitPluginActive(kc, customPluginArn);
  return customPluginArn;
}

// ---------------------------------------------------------------------------- the connector story

describe('MSK Connect connector story', () => {
  const { story, need, step } = storyline();
  let kc;
  before(() => {
    kc = kafkaConnect();
  });

  step('create a custom plugin', async () => {
    const name = unique('debezium-postgres');
    const resp = await kc.createCustomPlugin({
      name,
      description: 'Debezium PostgreSQL connector 2.5',
      contentType: 'ZIP',
      location: { s3Location: { bucketArn: BUCKET_ARN, fileKey: FILE_KEY } },
      tags: { team: 'data' },
    });
    assert.match(resp.customPluginArn, arnPattern('custom-plugin', name));
    assert.equal(resp.name, name);
    assert.equal(resp.revision, 1);
    assert.equal(resp.customPluginState, 'CREATING');
    Object.assign(story, { pluginName: name, pluginArn: resp.customPluginArn });
  });

  step('the plugin becomes ACTIVE', async () => {
    const [name, arn] = need('pluginName', 'pluginArn');
    const { plugin, seen } = await waitPluginActive(kc, arn);
    assert.ok(seen.at(-1) === 'ACTIVE' && seen.every((s) => ['CREATING', 'ACTIVE'].includes(s)), JSON.stringify(seen));
    assert.equal(plugin.customPluginArn, arn);
    assert.equal(plugin.name, name);
    assert.equal(plugin.description, 'Debezium PostgreSQL connector 2.5');
    assert.ok(plugin.creationTime instanceof Date);
    const rev = plugin.latestRevision;
    assert.equal(rev.revision, 1);
    assert.equal(rev.contentType, 'ZIP');
    assert.deepEqual(plain(rev.location), { s3Location: { bucketArn: BUCKET_ARN, fileKey: FILE_KEY } });
    assert.match(rev.fileDescription.fileMd5, /^[0-9a-f]{32}$/);
    assert.ok(rev.fileDescription.fileSize > 0);

    const listed = await kc.listCustomPlugins({ namePrefix: name });
    assert.deepEqual(listed.customPlugins.map((p) => p.customPluginArn), [arn]);
    assert.equal(listed.customPlugins[0].customPluginState, 'ACTIVE');
    assert.equal(listed.customPlugins[0].latestRevision.revision, 1);
    assert.equal(listed.nextToken, undefined);
    story.pluginActive = true;
  });

  step('create a worker configuration', async () => {
    const name = unique('string-keys');
    const resp = await kc.createWorkerConfiguration({
      name,
      description: 'plain string keys',
      propertiesFileContent: PROPERTIES_B64,
    });
    const arn = resp.workerConfigurationArn;
    assert.match(arn, arnPattern('worker-configuration', name));
    assert.equal(resp.name, name);
    // Worker configurations are ACTIVE at once: there is no CREATING state.
    assert.equal(resp.workerConfigurationState, 'ACTIVE');
    assert.equal(resp.latestRevision.revision, 1);
    assert.equal(resp.latestRevision.description, 'plain string keys');
    assert.ok(resp.creationTime instanceof Date);

    const got = await kc.describeWorkerConfiguration({ workerConfigurationArn: arn });
    assert.equal(got.workerConfigurationArn, arn);
    assert.equal(got.workerConfigurationState, 'ACTIVE');
    // The properties come back exactly as sent: base64 of the properties file.
    assert.equal(got.latestRevision.propertiesFileContent, PROPERTIES_B64);
    assert.equal(Buffer.from(got.latestRevision.propertiesFileContent, 'base64').toString(), PROPERTIES);

    const { workerConfigurations: listed } = await kc.listWorkerConfigurations({ namePrefix: name });
    assert.deepEqual(listed.map((w) => w.workerConfigurationArn), [arn]);
    assert.equal(listed[0].latestRevision.propertiesFileContent, undefined);
    Object.assign(story, { wcName: name, wcArn: arn });
  });

  step('create the connector', async () => {
    const [pluginArn, wcArn] = need('pluginArn', 'wcArn', 'pluginActive');
    const name = unique('orders-cdc');
    const request = connectorRequest(name, pluginArn, {
      workerConfiguration: { workerConfigurationArn: wcArn, revision: 1 },
      tags: { env: 'dev', team: 'data' },
    });
    const resp = await kc.createConnector(request);
    assert.match(resp.connectorArn, arnPattern('connector', name));
    assert.equal(resp.connectorName, name);
    assert.equal(resp.connectorState, 'CREATING');
    Object.assign(story, { name, arn: resp.connectorArn, request });
  });

  step('the connector runs', async () => {
    const [arn, name, request] = need('arn', 'name', 'request');
    const { connector: d, seen } = await waitConnector(kc, arn, 'RUNNING', ['CREATING']);
    assert.equal(seen.at(-1), 'RUNNING');
    assert.equal(d.connectorArn, arn);
    assert.equal(d.connectorName, name);
    assert.equal(d.connectorDescription, request.connectorDescription);
    assert.deepEqual(plain(d.capacity), { provisionedCapacity: { mcuCount: 1, workerCount: 1 } });
    assert.deepEqual(plain(d.connectorConfiguration), request.connectorConfiguration);
    assert.deepEqual(plain(d.kafkaCluster), request.kafkaCluster);
    assert.deepEqual(plain(d.kafkaClusterClientAuthentication), { authenticationType: 'NONE' });
    assert.deepEqual(plain(d.kafkaClusterEncryptionInTransit), { encryptionType: 'PLAINTEXT' });
    assert.equal(d.kafkaConnectVersion, '2.7.1');
    assert.equal(d.serviceExecutionRoleArn, ROLE_ARN);
    assert.deepEqual(plain(d.plugins), request.plugins);
    assert.deepEqual(plain(d.workerConfiguration), request.workerConfiguration);
    assert.equal(d.networkType, 'IPV4'); // the default
    assert.equal(d.logDelivery, undefined); // omitted when not supplied
    assert.ok(d.creationTime instanceof Date);
    assert.ok(typeof d.currentVersion === 'string' && d.currentVersion.length > 0, d.currentVersion);

    // Creating a connector is not a connector operation.
    assert.deepEqual((await kc.listConnectorOperations({ connectorArn: arn })).connectorOperations, []);

    const { connectors } = await kc.listConnectors({ connectorNamePrefix: name });
    assert.deepEqual(connectors.map((c) => c.connectorArn), [arn]);
    assert.equal(connectors[0].connectorState, 'RUNNING');
    assert.equal(connectors[0].currentVersion, d.currentVersion);
    assert.deepEqual(plain(connectors[0].plugins), request.plugins);
    assert.equal(connectors[0].connectorConfiguration, undefined); // not part of ConnectorSummary
    Object.assign(story, { v1: d.currentVersion, config1: plain(d.connectorConfiguration) });
  });

  step('update the connector configuration', async () => {
    const [arn, name, v1, config1] = need('arn', 'name', 'v1', 'config1');
    const config2 = { ...config1, 'tasks.max': '2' };
    const resp = await kc.updateConnector({ connectorArn: arn, currentVersion: v1, connectorConfiguration: config2 });
    assert.equal(resp.connectorArn, arn);
    assert.equal(resp.connectorState, 'UPDATING');
    const connectorId = arn.slice(arn.lastIndexOf('/') + 1);
    assert.match(resp.connectorOperationArn, arnPattern('connector-operation', `${name}/${connectorId}`, UUID));

    // Accepted: the connector is UPDATING on its old configuration, with a new currentVersion.
    const during = await kc.describeConnector({ connectorArn: arn });
    assert.equal(during.connectorState, 'UPDATING');
    assert.deepEqual(plain(during.connectorConfiguration), config1, 'settings apply only at UPDATE_COMPLETE');
    assert.notEqual(during.currentVersion, v1, 'an accepted update issues a new currentVersion');
    Object.assign(story, { config2, op1: resp.connectorOperationArn });
  });

  step('watch the update operation step by step', async () => {
    const [arn, opArn, config1, config2] = need('arn', 'op1', 'config1', 'config2');
    const { op, seen } = await waitOperation(kc, opArn);
    const states = distinct(seen.map((o) => o.connectorOperationState));
    assert.equal(states.at(-1), 'UPDATE_COMPLETE', JSON.stringify(states));
    assert.ok(states.every((s) => ['PENDING', 'UPDATE_IN_PROGRESS', 'UPDATE_COMPLETE'].includes(s)), JSON.stringify(states));
    assert.ok(states.includes('UPDATE_IN_PROGRESS'), `an update of ~2 s should be seen in progress: ${states}`);
    // Step by step: INITIALIZE_UPDATE → UPDATE_CONNECTOR_CONFIGURATION → VALIDATE_UPDATE → FINALIZE_UPDATE.
    const order = UPDATE_STEPS.UPDATE_CONNECTOR_CONFIGURATION;
    const inProgress = distinct(seen.flatMap((o) => steps(o).filter(([, s]) => s === 'IN_PROGRESS').map(([t]) => t)));
    assert.ok(inProgress.every((t) => order.includes(t)), JSON.stringify(inProgress));
    assert.deepEqual(inProgress, [...inProgress].sort((a, b) => order.indexOf(a) - order.indexOf(b)));

    assert.equal(op.connectorArn, arn);
    assert.equal(op.connectorOperationType, 'UPDATE_CONNECTOR_CONFIGURATION');
    assert.deepEqual(steps(op), allCompleted('UPDATE_CONNECTOR_CONFIGURATION'));
    assert.deepEqual(plain(op.originConnectorConfiguration), config1);
    assert.deepEqual(plain(op.targetConnectorConfiguration), config2);
    assert.equal(op.originWorkerSetting, undefined);
    assert.equal(op.targetWorkerSetting, undefined);
    assert.equal(op.errorInfo, undefined);
    story.op1Done = true;
  });

  step('the connector runs the new configuration', async () => {
    const [arn, v1, config2] = need('arn', 'v1', 'config2', 'op1Done');
    const { connector: d } = await waitConnector(kc, arn, 'RUNNING', ['UPDATING']);
    assert.deepEqual(plain(d.connectorConfiguration), config2);
    assert.equal(d.connectorConfiguration['tasks.max'], '2');
    assert.notEqual(d.currentVersion, v1);
    assert.deepEqual(plain(d.capacity), { provisionedCapacity: { mcuCount: 1, workerCount: 1 } });
    story.v2 = d.currentVersion;
  });

  step('switch to auto scaling (a worker-setting update)', async () => {
    const [arn, v2, wcArn, pluginArn, config2] = need('arn', 'v2', 'wcArn', 'pluginArn', 'config2');
    const auto = {
      mcuCount: 1,
      minWorkerCount: 1,
      maxWorkerCount: 2,
      scaleInPolicy: { cpuUtilizationPercentage: 20 },
      scaleOutPolicy: { cpuUtilizationPercentage: 80 },
    };
    const resp = await kc.updateConnector({ connectorArn: arn, currentVersion: v2, capacity: { autoScaling: auto } });
    assert.equal(resp.connectorState, 'UPDATING');
    const { op } = await waitOperation(kc, resp.connectorOperationArn);
    assert.equal(op.connectorOperationState, 'UPDATE_COMPLETE');
    assert.equal(op.connectorOperationType, 'UPDATE_WORKER_SETTING');
    assert.deepEqual(steps(op), allCompleted('UPDATE_WORKER_SETTING'));
    assert.equal(op.originConnectorConfiguration, undefined);
    assert.equal(op.targetConnectorConfiguration, undefined);

    const origin = plain(op.originWorkerSetting);
    const target = plain(op.targetWorkerSetting);
    assert.deepEqual(origin.capacity, { provisionedCapacity: { mcuCount: 1, workerCount: 1 } });
    for (const [key, value] of Object.entries(auto)) assert.deepEqual(target.capacity.autoScaling[key], value, key);
    assert.equal(target.capacity.provisionedCapacity, undefined);
    // Unchanged parts of the worker setting are copied from the origin.
    const plugins = [{ customPlugin: { customPluginArn: pluginArn, revision: 1 } }];
    assert.deepEqual(origin.plugins, plugins);
    assert.deepEqual(target.plugins, plugins);
    const wc = { workerConfigurationArn: wcArn, revision: 1 };
    assert.deepEqual(origin.workerConfiguration, wc);
    assert.deepEqual(target.workerConfiguration, wc);

    const { connector: d } = await waitConnector(kc, arn, 'RUNNING', ['UPDATING']);
    assert.equal(d.capacity.provisionedCapacity, undefined);
    for (const [key, value] of Object.entries(auto)) assert.deepEqual(plain(d.capacity.autoScaling[key]), value, key);
    assert.deepEqual(plain(d.connectorConfiguration), config2, 'a worker-setting update leaves the configuration alone');
    assert.notEqual(d.currentVersion, v2);
    Object.assign(story, { v3: d.currentVersion, op2: resp.connectorOperationArn, auto });
  });

  step('a configuration that fails validation is rolled back', async () => {
    const [arn, v3, config2, auto] = need('arn', 'v3', 'config2', 'auto');
    const broken = { ...config2, 'tasks.max': 'zero' };
    // The request itself is fine; Kafka Connect rejects the configuration during VALIDATE_UPDATE.
    const resp = await kc.updateConnector({ connectorArn: arn, currentVersion: v3, connectorConfiguration: broken });
    assert.equal(resp.connectorState, 'UPDATING');
    const { op, seen } = await waitOperation(kc, resp.connectorOperationArn);
    const states = distinct(seen.map((o) => o.connectorOperationState));
    assert.equal(op.connectorOperationState, 'ROLLBACK_COMPLETE', JSON.stringify(states));
    const allowed = ['PENDING', 'UPDATE_IN_PROGRESS', 'UPDATE_FAILED', 'ROLLBACK_IN_PROGRESS', 'ROLLBACK_COMPLETE'];
    assert.ok(states.every((s) => allowed.includes(s)), JSON.stringify(states));
    assert.equal(op.connectorOperationType, 'UPDATE_CONNECTOR_CONFIGURATION');
    assert.deepEqual(steps(op), [
      ['INITIALIZE_UPDATE', 'COMPLETED'],
      ['UPDATE_CONNECTOR_CONFIGURATION', 'COMPLETED'],
      ['VALIDATE_UPDATE', 'FAILED'],
      ['FINALIZE_UPDATE', 'CANCELLED'],
    ]);
    assert.ok(op.errorInfo?.code && op.errorInfo?.message, JSON.stringify(op.errorInfo));
    assert.deepEqual(plain(op.originConnectorConfiguration), config2);
    assert.deepEqual(plain(op.targetConnectorConfiguration), broken);

    // Back to RUNNING on the previous configuration and capacity.
    const { connector: d } = await waitConnector(kc, arn, 'RUNNING', ['UPDATING']);
    assert.deepEqual(plain(d.connectorConfiguration), config2);
    assert.equal(d.connectorConfiguration['tasks.max'], '2');
    for (const [key, value] of Object.entries(auto)) assert.deepEqual(plain(d.capacity.autoScaling[key]), value, key);
    Object.assign(story, { op3: resp.connectorOperationArn, v4: d.currentVersion });
  });

  step('a stale currentVersion is refused', async () => {
    const [arn, v1, config2, v4] = need('arn', 'v1', 'config2', 'v4');
    const before = plain(await kc.listConnectorOperations({ connectorArn: arn }));
    await expectError(
      kc.updateConnector({ connectorArn: arn, currentVersion: v1, connectorConfiguration: { ...config2, 'tasks.max': '4' } }),
      'BadRequestException',
      400,
    );
    // Nothing changed: no operation, same version, same configuration.
    const d = await kc.describeConnector({ connectorArn: arn });
    assert.equal(d.connectorState, 'RUNNING');
    assert.equal(d.currentVersion, v4);
    assert.deepEqual(plain(d.connectorConfiguration), config2);
    assert.deepEqual(plain(await kc.listConnectorOperations({ connectorArn: arn })), before);
  });

  step('list connector operations newest first, page by page', async () => {
    const [arn, op1, op2, op3] = need('arn', 'op1', 'op2', 'op3');
    const pages = [];
    for await (const page of paginateListConnectorOperations({ client: kc, pageSize: 1 }, { connectorArn: arn })) {
      pages.push(page);
    }
    assert.ok(pages.every((p) => p.connectorOperations.length === 1), JSON.stringify(pages.map(plain)));
    assert.ok(pages.slice(0, -1).every((p) => p.nextToken) && pages.at(-1).nextToken === undefined);
    const ops = pages.flatMap((p) => p.connectorOperations);
    assert.deepEqual(ops.map((o) => o.connectorOperationArn), [op3, op2, op1]);
    assert.deepEqual(
      ops.map((o) => [o.connectorOperationType, o.connectorOperationState]),
      [
        ['UPDATE_CONNECTOR_CONFIGURATION', 'ROLLBACK_COMPLETE'],
        ['UPDATE_WORKER_SETTING', 'UPDATE_COMPLETE'],
        ['UPDATE_CONNECTOR_CONFIGURATION', 'UPDATE_COMPLETE'],
      ],
    );
    const created = ops.map((o) => o.creationTime.getTime());
    assert.deepEqual(created, [...created].sort((a, b) => b - a));
    assert.ok(ops.every((o) => o.endTime >= o.creationTime));

    // By hand: the first page of one holds a token that leads to the second.
    const first = await kc.listConnectorOperations({ connectorArn: arn, maxResults: 1 });
    assert.deepEqual(first.connectorOperations.map((o) => o.connectorOperationArn), [op3]);
    const second = await kc.listConnectorOperations({ connectorArn: arn, maxResults: 1, nextToken: first.nextToken });
    assert.deepEqual(second.connectorOperations.map((o) => o.connectorOperationArn), [op2]);
    // One page of everything has no token.
    const everything = await kc.listConnectorOperations({ connectorArn: arn });
    assert.deepEqual(everything.connectorOperations.map((o) => o.connectorOperationArn), [op3, op2, op1]);
    assert.equal(everything.nextToken, undefined);
  });

  step('pause and resume', async () => {
    const [arn, config2] = need('arn', 'config2');
    const paused = await kc.pauseConnector({ connectorArn: arn });
    assert.equal(paused.connectorArn, arn);
    let { op } = await waitOperation(kc, paused.connectorOperationArn);
    assert.equal(op.connectorOperationType, 'PAUSE_CONNECTOR');
    assert.equal(op.connectorOperationState, 'PAUSE_COMPLETE');
    assert.equal((op.operationSteps ?? []).length, 0, 'pause has no update steps');
    const { connector: d } = await waitConnector(kc, arn, 'PAUSED', ['RUNNING', 'PAUSING']);
    assert.deepEqual(plain(d.connectorConfiguration), config2, 'pausing keeps the settings');

    // A PAUSED connector is only updated with skipHealthValidation.
    await expectError(
      kc.updateConnector({ connectorArn: arn, currentVersion: d.currentVersion, connectorConfiguration: { ...config2, 'tasks.max': '3' } }),
      'BadRequestException',
      400,
    );

    const resumed = await kc.resumeConnector({ connectorArn: arn });
    assert.equal(resumed.connectorArn, arn);
    ({ op } = await waitOperation(kc, resumed.connectorOperationArn));
    assert.equal(op.connectorOperationType, 'RESUME_CONNECTOR');
    assert.equal(op.connectorOperationState, 'RESUME_COMPLETE');
    await waitConnector(kc, arn, 'RUNNING', ['PAUSED', 'RESUMING']);

    const { connectorOperations } = await kc.listConnectorOperations({ connectorArn: arn });
    assert.deepEqual(connectorOperations.slice(0, 2).map((o) => o.connectorOperationType), ['RESUME_CONNECTOR', 'PAUSE_CONNECTOR']);
  });

  step('tags', async () => {
    const [arn, pluginArn, wcArn] = need('arn', 'pluginArn', 'wcArn');
    const tagsOf = async (resourceArn) => plain((await kc.listTagsForResource({ resourceArn })).tags);
    assert.deepEqual(await tagsOf(arn), { env: 'dev', team: 'data' });

    await kc.tagResource({ resourceArn: arn, tags: { env: 'prod', owner: 'payments' } });
    assert.deepEqual(await tagsOf(arn), { env: 'prod', team: 'data', owner: 'payments' });

    // Removing a key that is not there is not an error.
    await kc.untagResource({ resourceArn: arn, tagKeys: ['owner', 'team', 'absent'] });
    assert.deepEqual(await tagsOf(arn), { env: 'prod' });

    // Plugins and worker configurations carry tags too; none is an empty map.
    assert.deepEqual(await tagsOf(pluginArn), { team: 'data' });
    assert.deepEqual(await tagsOf(wcArn), {});
  });

  step('errors', async () => {
    const [arn, name, pluginArn, op1] = need('arn', 'name', 'pluginArn', 'op1');
    // A well-formed ARN that names nothing: 404.
    await expectError(kc.describeConnector({ connectorArn: unknownArn(arn) }), 'NotFoundException', 404);
    await expectError(kc.listConnectorOperations({ connectorArn: unknownArn(arn) }), 'NotFoundException', 404);
    const unknownOp = `${op1.slice(0, op1.lastIndexOf('/'))}/ffffffff-7a8b-4e5f-9c0d-1b2a3c4d5e6f`;
    await expectError(kc.describeConnectorOperation({ connectorOperationArn: unknownOp }), 'NotFoundException', 404);
    await expectError(kc.describeCustomPlugin({ customPluginArn: unknownArn(pluginArn) }), 'NotFoundException', 404);
    await expectError(kc.listTagsForResource({ resourceArn: unknownArn(arn) }), 'NotFoundException', 404);

    // Not an ARN at all: 400.
    await expectError(kc.describeConnector({ connectorArn: 'not-an-arn' }), 'BadRequestException', 400);
    await expectError(kc.describeConnectorOperation({ connectorOperationArn: 'not-an-arn' }), 'BadRequestException', 400);

    // mcuCount must be 1, 2, 4 or 8: 400, and nothing is created.
    const three = unique('three-mcu');
    await expectError(
      kc.createConnector(connectorRequest(three, pluginArn, { capacity: { provisionedCapacity: { mcuCount: 3, workerCount: 1 } } })),
      'BadRequestException',
      400,
    );
    assert.deepEqual((await kc.listConnectors({ connectorNamePrefix: three })).connectors, []);

    // The name is taken: 409.
    await expectError(kc.createConnector(connectorRequest(name, pluginArn)), 'ConflictException', 409);
    assert.equal((await kc.listConnectors({ connectorNamePrefix: name })).connectors.length, 1);
  });

  step('delete the connector', async () => {
    const [arn, op1] = need('arn', 'op1');
    const { currentVersion } = await kc.describeConnector({ connectorArn: arn });
    const resp = await kc.deleteConnector({ connectorArn: arn, currentVersion });
    assert.equal(resp.connectorArn, arn);
    assert.equal(resp.connectorState, 'DELETING');
    await waitConnectorGone(kc, arn);

    await expectError(kc.listTagsForResource({ resourceArn: arn }), 'NotFoundException', 404);
    await expectError(kc.listConnectorOperations({ connectorArn: arn }), 'NotFoundException', 404);
    // Operations go with their connector (kafkaconnect.md §2.8, recommended).
    await expectError(kc.describeConnectorOperation({ connectorOperationArn: op1 }), 'NotFoundException', 404);
    story.connectorDeleted = true;
  });

  step('delete the worker configuration and the plugin', async () => {
    const [pluginArn, pluginName, wcArn] = need('pluginArn', 'pluginName', 'wcArn', 'connectorDeleted');
    const wc = await kc.deleteWorkerConfiguration({ workerConfigurationArn: wcArn });
    assert.equal(wc.workerConfigurationArn, wcArn);
    assert.equal(wc.workerConfigurationState, 'DELETING');
    const plugin = await kc.deleteCustomPlugin({ customPluginArn: pluginArn });
    assert.equal(plugin.customPluginArn, pluginArn);
    assert.equal(plugin.customPluginState, 'DELETING');

    const gone = (promise) =>
      promise.then(
        () => false,
        (e) => {
          assert.equal(e.name, 'NotFoundException', `${e.name}: ${e.message}`);
          return true;
        },
      );
    await poll(() => gone(kc.describeWorkerConfiguration({ workerConfigurationArn: wcArn })), Boolean, 'worker configuration deletion');
    await poll(() => gone(kc.describeCustomPlugin({ customPluginArn: pluginArn })), Boolean, 'custom plugin deletion');
    assert.deepEqual((await kc.listCustomPlugins({ namePrefix: pluginName })).customPlugins, []);
    await expectError(kc.listTagsForResource({ resourceArn: pluginArn }), 'NotFoundException', 404);
  });
});

// ---------------------------------------------------------------------------- fault injection

describe('MSK Connect injected failure story', () => {
  const { story, need, step } = storyline();
  let kc;
  before(() => {
    kc = kafkaConnect();
  });

  step('a running connector', async () => {
    const pluginArn = await createActivePlugin(kc, unique('faulty-plugin'));
    const { connectorArn: arn } = await kc.createConnector(connectorRequest(unique('faulty-cdc'), pluginArn));
    const { connector: d } = await waitConnector(kc, arn, 'RUNNING', ['CREATING']);
    Object.assign(story, { arn, pluginArn, version: d.currentVersion, config: plain(d.connectorConfiguration) });
  });

  step('an injected failure ends ROLLBACK_FAILED', async () => {
    const [arn, version, config] = need('arn', 'version', 'config');
    const faultId = await addFault(server.endpoint, {
      service: 'kafkaconnect',
      operationType: 'UPDATE_CONNECTOR_CONFIGURATION',
      step: 'VALIDATE_UPDATE',
      errorCode: 'InjectedFailure',
      errorMessage: 'boom',
      rollback: 'failed',
      count: 1,
      // Only this connector, so that a shared server's other users are not hit.
      resource: arn,
    });
    try {
      const target = { ...config, 'tasks.max': '2' }; // a configuration that would validate
      const resp = await kc.updateConnector({ connectorArn: arn, currentVersion: version, connectorConfiguration: target });
      const { op, seen } = await waitOperation(kc, resp.connectorOperationArn);
      const states = distinct(seen.map((o) => o.connectorOperationState));
      assert.equal(op.connectorOperationState, 'ROLLBACK_FAILED', JSON.stringify(states));
      const allowed = ['PENDING', 'UPDATE_IN_PROGRESS', 'UPDATE_FAILED', 'ROLLBACK_IN_PROGRESS', 'ROLLBACK_FAILED'];
      assert.ok(states.every((s) => allowed.includes(s)), JSON.stringify(states));
      assert.deepEqual(plain(op.errorInfo), { code: 'InjectedFailure', message: 'boom' });
      assert.deepEqual(steps(op), [
        ['INITIALIZE_UPDATE', 'COMPLETED'],
        ['UPDATE_CONNECTOR_CONFIGURATION', 'COMPLETED'],
        ['VALIDATE_UPDATE', 'FAILED'],
        ['FINALIZE_UPDATE', 'CANCELLED'],
      ]);
      // localplane leaves a connector whose rollback failed FAILED (the reference does not say).
      const { connector: d } = await waitConnector(kc, arn, 'FAILED', ['UPDATING']);
      assert.equal(d.connectorConfiguration['tasks.max'], '1', 'the target configuration was never applied');

      // The rule was used up: no fault is left for this connector.
      const { status, body } = await adminRequest(server.endpoint, 'GET', '/_localplane/faults');
      assert.equal(status, 200);
      assert.ok(body.faults.every((f) => f.resource !== arn), JSON.stringify(body));
    } finally {
      await removeFault(server.endpoint, faultId); // 404 once used up
    }
  });

  step('clean up', async () => {
    const [arn, pluginArn] = need('arn', 'pluginArn');
    assert.equal((await kc.deleteConnector({ connectorArn: arn })).connectorState, 'DELETING');
    await waitConnectorGone(kc, arn);
    assert.equal((await kc.deleteCustomPlugin({ customPluginArn: pluginArn })).customPluginState, 'DELETING');
  });
});
