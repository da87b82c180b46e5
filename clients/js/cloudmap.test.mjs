// AWS Cloud Map through the AWS SDK for JavaScript v3, told as one user's story.
//
// A payments team registers its `checkout` service in an HTTP namespace, finds
// instances through DiscoverInstances, marks one unhealthy, pages through the
// registry, looks at the operation history, tags things, trips over the usual
// errors and tears everything down. A second story uses a private DNS
// namespace and an A-record service.
//
// Both stories run twice: with the SDK's default protocol (awsJson1_1) and with
// Smithy RPC v2 CBOR, which newer SDKs pick for Cloud Map; localplane must
// answer both the same way.
//
// Steps of a story run in order and share `story`; a step that needs something
// an earlier (failed) step should have produced is skipped.
//
// Behaviour reference: shared/reference/servicediscovery.md, protocols.md §2-3.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ServiceDiscovery,
  paginateListInstances,
  paginateListNamespaces,
  paginateListOperations,
} from '@aws-sdk/client-servicediscovery';
import { SmithyRpcV2CborProtocol } from '@smithy/core/cbor';
import { ACCOUNT, CREDENTIALS, REGION, startLocalplane } from './localplane.mjs';

const NAMESPACE_ID = /^ns-[a-z2-7]{16}$/;
const SERVICE_ID = /^srv-[a-z2-7]{16}$/;
const OPERATION_ID = /^[a-z2-7]{32}-([0-9a-z]+)$/;
const HOSTED_ZONE_ID = /^Z[0-9A-Z]+$/;
const STATUS_ORDER = { SUBMITTED: 0, PENDING: 1, SUCCESS: 2, FAIL: 2 };

let server;
before(async () => {
  server = await startLocalplane();
});
after(async () => {
  await server?.stop();
});

// ---------------------------------------------------------------------------- helpers

function serviceDiscovery(protocol, credentials = CREDENTIALS) {
  return new ServiceDiscovery({
    region: REGION,
    endpoint: server.endpoint,
    credentials,
    // DiscoverInstances carries hostPrefix "data-": without this the SDK would
    // connect to data-127.0.0.1, which does not resolve.
    disableHostPrefix: true,
    // Surface server errors as they are instead of retrying them.
    maxAttempts: 1,
    ...(protocol === 'rpcv2Cbor' ? { protocol: SmithyRpcV2CborProtocol } : {}),
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

/** JSON round trip: plain objects for deep comparisons, whatever the protocol's decoder built. */
const plain = (value) => JSON.parse(JSON.stringify(value));

/** Polls GetOperation every 0.2 s (up to 30 s) until SUCCESS; returns the Operation. */
async function waitForOperation(sd, operationId, { seen, timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Operation: op } = await sd.getOperation({ OperationId: operationId });
    seen?.push(op.Status);
    if (op.Status === 'SUCCESS') return op;
    assert.ok(['SUBMITTED', 'PENDING'].includes(op.Status), `operation ${operationId} ended as ${JSON.stringify(op)}`);
    assert.ok(Date.now() < deadline, `operation ${operationId} still ${op.Status} after ${timeoutMs} ms`);
    await sleep(200);
  }
}

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
  assert.ok(error.$metadata?.requestId, 'x-amzn-RequestId missing on an error');
  return error;
}

const instanceIds = (resp) => new Set(resp.Instances.map((i) => i.InstanceId));
const tagMap = (resp) => Object.fromEntries(resp.Tags.map((t) => [t.Key, t.Value]));

async function operations(sd, Filters) {
  const found = {};
  for await (const page of paginateListOperations({ client: sd }, { Filters })) {
    for (const op of page.Operations ?? []) found[op.Id] = op.Status;
  }
  return found;
}

// ---------------------------------------------------------------------------- stories

const CHECKOUT_INSTANCES = {
  'checkout-1': { AWS_INSTANCE_IPV4: '10.0.1.17', AWS_INSTANCE_PORT: '8080', stage: 'prod', az: 'us-east-1a' },
  'checkout-2': { AWS_INSTANCE_IPV4: '10.0.1.42', AWS_INSTANCE_PORT: '8080', stage: 'prod', az: 'us-east-1b' },
  'checkout-3': { AWS_INSTANCE_IPV4: '10.0.2.9', AWS_INSTANCE_PORT: '8081', stage: 'canary', az: 'us-east-1a' },
};
const ALL_CHECKOUT = new Set(Object.keys(CHECKOUT_INSTANCES));

for (const protocol of ['awsJson1_1', 'rpcv2Cbor']) {
  describe(`HTTP namespace story (${protocol})`, () => {
    const { story, need, step } = storyline();
    let sd;
    before(() => {
      sd = serviceDiscovery(protocol);
    });

    step('create an HTTP namespace and wait for the operation', async () => {
      const name = `${unique('orders')}.internal`;
      const token = randomUUID();
      const { OperationId: opId } = await sd.createHttpNamespace({
        Name: name,
        Description: 'orders API namespace',
        CreatorRequestId: token,
        Tags: [{ Key: 'team', Value: 'payments' }],
      });
      assert.match(opId, OPERATION_ID);

      // The operation is visible at once, and already names the namespace it creates.
      const { Operation: first } = await sd.getOperation({ OperationId: opId });
      assert.equal(first.Id, opId);
      assert.equal(first.Type, 'CREATE_NAMESPACE');
      assert.ok(['SUBMITTED', 'PENDING', 'SUCCESS'].includes(first.Status), first.Status);
      const nsId = first.Targets.NAMESPACE;
      assert.match(nsId, NAMESPACE_ID);

      const seen = [first.Status];
      const op = await waitForOperation(sd, opId, { seen });
      const ranks = seen.map((s) => STATUS_ORDER[s]);
      assert.deepEqual(ranks, [...ranks].sort(), `status went backwards: ${seen}`);
      assert.equal(op.Targets.NAMESPACE, nsId);
      assert.ok(op.CreateDate instanceof Date && op.UpdateDate instanceof Date);
      assert.ok(op.CreateDate <= op.UpdateDate);
      assert.equal(op.ErrorCode, undefined);
      // The id's suffix is the base-36 CreateDate in epoch milliseconds.
      const suffix = OPERATION_ID.exec(opId)[1];
      assert.ok(Math.abs(parseInt(suffix, 36) - op.CreateDate.getTime()) <= 1, `${suffix} vs ${op.CreateDate.toISOString()}`);

      Object.assign(story, { nsName: name, nsId, nsToken: token, nsCreateOp: opId });
    });

    step('get the namespace, by id and by ARN', async () => {
      const [nsId, name, token] = need('nsId', 'nsName', 'nsToken');
      const { Namespace: ns } = await sd.getNamespace({ Id: nsId });
      const arn = `arn:aws:servicediscovery:${REGION}:${ACCOUNT}:namespace/${nsId}`;
      assert.equal(ns.Id, nsId);
      assert.equal(ns.Arn, arn);
      assert.equal(ns.Name, name);
      assert.equal(ns.Type, 'HTTP');
      assert.equal(ns.Description, 'orders API namespace');
      assert.equal(ns.Properties.HttpProperties.HttpName, name);
      assert.equal(ns.ServiceCount, 0);
      assert.equal(ns.CreatorRequestId, token);
      assert.equal(ns.ResourceOwner, ACCOUNT);
      assert.ok(ns.CreateDate instanceof Date);

      assert.equal((await sd.getNamespace({ Id: arn })).Namespace.Id, nsId);
      story.nsArn = arn;
    });

    step('list namespaces with filters', async () => {
      const [nsId, name] = need('nsId', 'nsName');
      const byName = await sd.listNamespaces({ Filters: [{ Name: 'NAME', Values: [name], Condition: 'EQ' }] });
      assert.deepEqual(byName.Namespaces.map((n) => n.Id), [nsId]);
      assert.equal(byName.Namespaces[0].Type, 'HTTP');
      assert.equal(byName.Namespaces[0].Properties.HttpProperties.HttpName, name);
      assert.equal(byName.NextToken, undefined);

      const httpIds = new Set();
      for await (const page of paginateListNamespaces({ client: sd }, { Filters: [{ Name: 'TYPE', Values: ['HTTP'] }] })) {
        for (const n of page.Namespaces) {
          assert.equal(n.Type, 'HTTP');
          httpIds.add(n.Id);
        }
      }
      assert.ok(httpIds.has(nsId));
    });

    step('create the checkout service with custom health checks', async () => {
      const [nsId, nsArn] = need('nsId', 'nsArn');
      const token = randomUUID();
      const { Service: svc } = await sd.createService({
        Name: 'checkout',
        NamespaceId: nsId,
        Description: 'checkout API',
        CreatorRequestId: token,
        HealthCheckCustomConfig: { FailureThreshold: 1 },
        Tags: [{ Key: 'tier', Value: 'web' }],
      });
      assert.match(svc.Id, SERVICE_ID);
      assert.equal(svc.Arn, `arn:aws:servicediscovery:${REGION}:${ACCOUNT}:service/${svc.Id}`);
      assert.equal(svc.Name, 'checkout');
      assert.equal(svc.NamespaceId, nsId);
      assert.equal(svc.Type, 'HTTP');
      assert.equal(svc.InstanceCount, 0);
      assert.deepEqual(plain(svc.HealthCheckCustomConfig), { FailureThreshold: 1 });
      assert.equal(svc.DnsConfig, undefined);
      assert.equal(svc.HealthCheckConfig, undefined);
      assert.equal(svc.CreatorRequestId, token);
      assert.equal(svc.CreatedByAccount, ACCOUNT);
      assert.equal(svc.ResourceOwner, ACCOUNT);

      const { Service: got } = await sd.getService({ Id: svc.Id });
      for (const key of ['Id', 'Arn', 'Name', 'NamespaceId', 'Description', 'Type']) assert.equal(got[key], svc[key], key);
      assert.equal((await sd.getService({ Id: svc.Arn })).Service.Id, svc.Id);

      let listed = await sd.listServices({ Filters: [{ Name: 'NAMESPACE_ID', Values: [nsId], Condition: 'EQ' }] });
      assert.deepEqual(listed.Services.map((s) => s.Id), [svc.Id]);
      listed = await sd.listServices({ Filters: [{ Name: 'NAMESPACE_ID', Values: [nsArn] }] });
      assert.deepEqual(listed.Services.map((s) => s.Id), [svc.Id]);

      assert.equal((await sd.getNamespace({ Id: nsId })).Namespace.ServiceCount, 1);
      Object.assign(story, { srvId: svc.Id, srvArn: svc.Arn, srvToken: token });
    });

    step('register three instances', async () => {
      const [srvId] = need('srvId');
      const opIds = {};
      for (const [InstanceId, Attributes] of Object.entries(CHECKOUT_INSTANCES)) {
        opIds[InstanceId] = (await sd.registerInstance({ ServiceId: srvId, InstanceId, Attributes })).OperationId;
      }
      for (const [instanceId, opId] of Object.entries(opIds)) {
        const op = await waitForOperation(sd, opId);
        assert.equal(op.Type, 'REGISTER_INSTANCE');
        assert.equal(op.Targets.INSTANCE, instanceId);
        assert.equal(op.Targets.SERVICE, srvId);
      }
      story.registerOps = opIds;
    });

    step('registered instances are readable', async () => {
      const [srvId] = need('srvId', 'registerOps');
      const got = await sd.getInstance({ ServiceId: srvId, InstanceId: 'checkout-1' });
      assert.equal(got.Instance.Id, 'checkout-1');
      assert.deepEqual(plain(got.Instance.Attributes), CHECKOUT_INSTANCES['checkout-1']);
      assert.equal(got.Instance.CreatedByAccount, ACCOUNT);
      assert.ok(got.Instance.CreatorRequestId, 'the SDK filled in an idempotency token');
      assert.equal(got.ResourceOwner, ACCOUNT);

      assert.equal((await sd.getService({ Id: srvId })).Service.InstanceCount, 3);
      const health = await sd.getInstancesHealthStatus({ ServiceId: srvId });
      assert.deepEqual(plain(health.Status), { 'checkout-1': 'HEALTHY', 'checkout-2': 'HEALTHY', 'checkout-3': 'HEALTHY' });
    });

    step('discover instances with query and optional parameters', async () => {
      const [name] = need('nsName', 'registerOps');
      const q = { NamespaceName: name, ServiceName: 'checkout' };

      const everything = await sd.discoverInstances(q);
      assert.deepEqual(instanceIds(everything), ALL_CHECKOUT);
      for (const inst of everything.Instances) {
        assert.equal(inst.NamespaceName, name);
        assert.equal(inst.ServiceName, 'checkout');
        assert.equal(inst.HealthStatus, 'HEALTHY');
        assert.deepEqual(plain(inst.Attributes), CHECKOUT_INSTANCES[inst.InstanceId]);
      }
      const revision = Number(everything.InstancesRevision);
      assert.ok(Number.isInteger(revision), `InstancesRevision ${everything.InstancesRevision}`);

      const prod = await sd.discoverInstances({ ...q, QueryParameters: { stage: 'prod' } });
      assert.deepEqual(instanceIds(prod), new Set(['checkout-1', 'checkout-2']));

      // OptionalParameters narrow the result when something matches...
      const prodB = await sd.discoverInstances({ ...q, QueryParameters: { stage: 'prod' }, OptionalParameters: { az: 'us-east-1b' } });
      assert.deepEqual(instanceIds(prodB), new Set(['checkout-2']));
      // ...and are ignored when nothing does.
      const fallback = await sd.discoverInstances({ ...q, QueryParameters: { stage: 'prod' }, OptionalParameters: { az: 'eu-west-1c' } });
      assert.deepEqual(instanceIds(fallback), new Set(['checkout-1', 'checkout-2']));

      assert.deepEqual((await sd.discoverInstances({ ...q, QueryParameters: { stage: 'qa' } })).Instances, []);
      assert.equal((await sd.discoverInstances({ ...q, MaxResults: 1 })).Instances.length, 1);

      assert.equal(Number((await sd.discoverInstancesRevision(q)).InstancesRevision), revision);
      story.revision = revision;
    });

    step('custom health status filters discovery', async () => {
      const [srvId, name, revision] = need('srvId', 'nsName', 'revision');
      const q = { NamespaceName: name, ServiceName: 'checkout' };

      await sd.updateInstanceCustomHealthStatus({ ServiceId: srvId, InstanceId: 'checkout-1', Status: 'UNHEALTHY' });
      // localplane applies custom health changes immediately (AWS takes ~30 s).
      const healthy = await sd.discoverInstances(q);
      assert.deepEqual(instanceIds(healthy), new Set(['checkout-2', 'checkout-3']));
      assert.ok(healthy.Instances.every((i) => i.HealthStatus === 'HEALTHY'));

      const unhealthy = await sd.discoverInstances({ ...q, HealthStatus: 'UNHEALTHY' });
      assert.deepEqual(instanceIds(unhealthy), new Set(['checkout-1']));
      assert.equal(unhealthy.Instances[0].HealthStatus, 'UNHEALTHY');

      const everyone = await sd.discoverInstances({ ...q, HealthStatus: 'ALL' });
      const expected = { 'checkout-1': 'UNHEALTHY', 'checkout-2': 'HEALTHY', 'checkout-3': 'HEALTHY' };
      assert.deepEqual(Object.fromEntries(everyone.Instances.map((i) => [i.InstanceId, i.HealthStatus])), expected);
      assert.deepEqual(plain((await sd.getInstancesHealthStatus({ ServiceId: srvId })).Status), expected);
      assert.deepEqual(
        plain((await sd.getInstancesHealthStatus({ ServiceId: srvId, Instances: ['checkout-1'] })).Status),
        { 'checkout-1': 'UNHEALTHY' },
      );

      // The only canary goes down too: HEALTHY finds nothing, HEALTHY_OR_ELSE_ALL fails open.
      await sd.updateInstanceCustomHealthStatus({ ServiceId: srvId, InstanceId: 'checkout-3', Status: 'UNHEALTHY' });
      const canary = { ...q, QueryParameters: { stage: 'canary' } };
      assert.deepEqual((await sd.discoverInstances(canary)).Instances, []);
      assert.deepEqual(instanceIds(await sd.discoverInstances({ ...canary, HealthStatus: 'HEALTHY_OR_ELSE_ALL' })), new Set(['checkout-3']));
      const prod = { ...q, QueryParameters: { stage: 'prod' }, HealthStatus: 'HEALTHY_OR_ELSE_ALL' };
      assert.deepEqual(instanceIds(await sd.discoverInstances(prod)), new Set(['checkout-2']));

      // Health changes do not move the instances revision.
      assert.equal(Number((await sd.discoverInstancesRevision(q)).InstancesRevision), revision);

      for (const InstanceId of ['checkout-1', 'checkout-3']) {
        await sd.updateInstanceCustomHealthStatus({ ServiceId: srvId, InstanceId, Status: 'HEALTHY' });
      }
      assert.deepEqual(instanceIds(await sd.discoverInstances(q)), ALL_CHECKOUT);
    });

    step('list instances one page at a time', async () => {
      const [srvId] = need('srvId', 'registerOps');
      const first = await sd.listInstances({ ServiceId: srvId, MaxResults: 1 });
      assert.equal(first.Instances.length, 1);
      assert.ok(first.NextToken, 'a first page of one should carry a NextToken');
      assert.equal(first.ResourceOwner, ACCOUNT);

      const pages = [];
      for await (const page of paginateListInstances({ client: sd, pageSize: 1 }, { ServiceId: srvId })) pages.push(page);
      assert.deepEqual(pages.map((p) => p.Instances.length), [1, 1, 1], 'three instances, one per page, no empty last page');
      assert.equal(pages.at(-1).NextToken, undefined);
      const listed = Object.fromEntries(pages.flatMap((p) => p.Instances).map((i) => [i.Id, i]));
      assert.deepEqual(new Set(Object.keys(listed)), ALL_CHECKOUT);
      for (const [id, inst] of Object.entries(listed)) {
        assert.deepEqual(plain(inst.Attributes), CHECKOUT_INSTANCES[id]);
        assert.equal(inst.CreatedByAccount, ACCOUNT);
      }
    });

    step('list operations with filters', async () => {
      const [nsId, srvId, createOp, registerOps] = need('nsId', 'srvId', 'nsCreateOp', 'registerOps');
      const inNamespace = { Name: 'NAMESPACE_ID', Values: [nsId], Condition: 'EQ' };
      const registerIds = Object.values(registerOps);

      const registered = await operations(sd, [
        { Name: 'TYPE', Values: ['REGISTER_INSTANCE'], Condition: 'IN' },
        { Name: 'STATUS', Values: ['SUCCESS'], Condition: 'EQ' },
        inNamespace,
      ]);
      assert.deepEqual(registered, Object.fromEntries(registerIds.map((id) => [id, 'SUCCESS'])));

      assert.deepEqual(await operations(sd, [inNamespace, { Name: 'TYPE', Values: ['CREATE_NAMESPACE'] }]), { [createOp]: 'SUCCESS' });

      const both = await operations(sd, [inNamespace, { Name: 'TYPE', Values: ['CREATE_NAMESPACE', 'REGISTER_INSTANCE'], Condition: 'IN' }]);
      assert.deepEqual(new Set(Object.keys(both)), new Set([createOp, ...registerIds]));

      const forService = await operations(sd, [{ Name: 'SERVICE_ID', Values: [srvId], Condition: 'EQ' }]);
      assert.deepEqual(new Set(Object.keys(forService)), new Set(registerIds));

      assert.deepEqual(await operations(sd, [inNamespace, { Name: 'STATUS', Values: ['SUBMITTED', 'PENDING'], Condition: 'IN' }]), {});

      const now = Math.floor(Date.now() / 1000);
      const recent = await operations(sd, [
        inNamespace,
        { Name: 'UPDATE_DATE', Values: [String(now - 3600), String(now + 3600)], Condition: 'BETWEEN' },
      ]);
      assert.deepEqual(new Set(Object.keys(recent)), new Set([createOp, ...registerIds]));

      // Wrong condition for a filter, or EQ with two values, is InvalidInput.
      await expectError(sd.listOperations({ Filters: [{ Name: 'TYPE', Values: ['REGISTER_INSTANCE'], Condition: 'BETWEEN' }] }), 'InvalidInput', 400);
      await expectError(sd.listOperations({ Filters: [{ Name: 'STATUS', Values: ['SUCCESS', 'FAIL'], Condition: 'EQ' }] }), 'InvalidInput', 400);
    });

    step('tag and untag the namespace and the service', async () => {
      const [nsArn, srvArn] = need('nsArn', 'srvArn');
      const tagsOf = async (ResourceARN) => tagMap(await sd.listTagsForResource({ ResourceARN }));
      assert.deepEqual(await tagsOf(nsArn), { team: 'payments' });
      assert.deepEqual(await tagsOf(srvArn), { tier: 'web' });

      await sd.tagResource({ ResourceARN: srvArn, Tags: [{ Key: 'env', Value: 'test' }, { Key: 'owner', Value: 'alice' }] });
      assert.deepEqual(await tagsOf(srvArn), { tier: 'web', env: 'test', owner: 'alice' });

      // Tagging merges; an existing key is overwritten.
      await sd.tagResource({ ResourceARN: srvArn, Tags: [{ Key: 'env', Value: 'staging' }] });
      assert.equal((await tagsOf(srvArn)).env, 'staging');

      // Untagging a key that is not there is not an error.
      await sd.untagResource({ ResourceARN: srvArn, TagKeys: ['owner', 'no-such-key'] });
      assert.deepEqual(await tagsOf(srvArn), { tier: 'web', env: 'staging' });

      await sd.tagResource({ ResourceARN: nsArn, Tags: [{ Key: 'cost-center', Value: '' }] });
      assert.deepEqual(await tagsOf(nsArn), { team: 'payments', 'cost-center': '' });

      await expectError(
        sd.listTagsForResource({ ResourceARN: `arn:aws:servicediscovery:${REGION}:${ACCOUNT}:service/srv-aaaaaaaaaaaaaaaa` }),
        'ResourceNotFoundException',
        404,
      );

      // At most 50 tags per resource: two are there, 49 more would make 51.
      const tooMany = Array.from({ length: 49 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
      const err = await expectError(sd.tagResource({ ResourceARN: srvArn, Tags: tooMany }), 'TooManyTagsException', 400);
      assert.equal(err.ResourceName, srvArn);
      assert.deepEqual(await tagsOf(srvArn), { tier: 'web', env: 'staging' });
    });

    step('service attributes', async () => {
      const [srvId, srvArn] = need('srvId', 'srvArn');
      await sd.updateServiceAttributes({ ServiceId: srvId, Attributes: { version: '1', color: 'blue' } });
      const { ServiceAttributes: attrs } = await sd.getServiceAttributes({ ServiceId: srvId });
      assert.equal(attrs.ServiceArn, srvArn);
      assert.equal(attrs.ResourceOwner, ACCOUNT);
      assert.deepEqual(plain(attrs.Attributes), { version: '1', color: 'blue' });

      // Updates merge...
      await sd.updateServiceAttributes({ ServiceId: srvId, Attributes: { color: 'green' } });
      assert.deepEqual(plain((await sd.getServiceAttributes({ ServiceId: srvId })).ServiceAttributes.Attributes), { version: '1', color: 'green' });
      // ...and deletes remove only the named keys.
      await sd.deleteServiceAttributes({ ServiceId: srvId, Attributes: ['version'] });
      assert.deepEqual(plain((await sd.getServiceAttributes({ ServiceId: srvId })).ServiceAttributes.Attributes), { color: 'green' });

      // At most 30 attributes per service: one is there, 30 more would make 31.
      const thirty = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`a${i}`, 'x']));
      await expectError(sd.updateServiceAttributes({ ServiceId: srvId, Attributes: thirty }), 'ServiceAttributesLimitExceededException', 400);
      assert.deepEqual(plain((await sd.getServiceAttributes({ ServiceId: srvId })).ServiceAttributes.Attributes), { color: 'green' });
    });

    step('not-found errors', async () => {
      const [srvId, name, nsId] = need('srvId', 'nsName', 'nsId');
      await expectError(sd.getNamespace({ Id: 'ns-aaaaaaaaaaaaaaaa' }), 'NamespaceNotFound', 404);
      await expectError(sd.getService({ Id: 'srv-aaaaaaaaaaaaaaaa' }), 'ServiceNotFound', 404);
      await expectError(sd.getOperation({ OperationId: 'a7kq3zt2xw5m4hbnd6vcy2pfo7elrgu3-mbrzzzzz' }), 'OperationNotFound', 404);
      await expectError(sd.getInstance({ ServiceId: srvId, InstanceId: 'checkout-404' }), 'InstanceNotFound', 404);
      await expectError(
        sd.updateInstanceCustomHealthStatus({ ServiceId: srvId, InstanceId: 'checkout-404', Status: 'HEALTHY' }),
        'InstanceNotFound',
        404,
      );
      await expectError(
        sd.registerInstance({ ServiceId: 'srv-aaaaaaaaaaaaaaaa', InstanceId: 'x', Attributes: { a: 'b' } }),
        'ServiceNotFound',
        404,
      );
      await expectError(sd.discoverInstances({ NamespaceName: name, ServiceName: 'no-such-service' }), 'ServiceNotFound', 404);
      await expectError(sd.discoverInstances({ NamespaceName: unique('nowhere'), ServiceName: 'checkout' }), 'NamespaceNotFound', 404);
      await expectError(sd.createService({ Name: 'orphan', NamespaceId: 'ns-aaaaaaaaaaaaaaaa' }), 'NamespaceNotFound', 404);
      await expectError(
        sd.getInstancesHealthStatus({ ServiceId: srvId, Instances: ['checkout-1', 'checkout-404'] }),
        'InstanceNotFound',
        404,
      );

      // Another account (another 12-digit access key) sees none of it.
      const other = serviceDiscovery(protocol, { accessKeyId: '210987654321', secretAccessKey: 'x' });
      await expectError(other.getNamespace({ Id: nsId }), 'NamespaceNotFound', 404);
      await expectError(other.getService({ Id: srvId }), 'ServiceNotFound', 404);
      await expectError(other.discoverInstances({ NamespaceName: name, ServiceName: 'checkout' }), 'NamespaceNotFound', 404);
    });

    step('resources in use cannot be deleted', async () => {
      const [nsId, srvId] = need('nsId', 'srvId', 'registerOps');
      await expectError(sd.deleteNamespace({ Id: nsId }), 'ResourceInUse', 409); // still holds the checkout service
      await expectError(sd.deleteService({ Id: srvId }), 'ResourceInUse', 409); // still has instances
    });

    step('names already taken', async () => {
      const [nsId, name, token, srvId, srvArn, srvToken] = need('nsId', 'nsName', 'nsToken', 'srvId', 'srvArn', 'srvToken');
      const nsErr = await expectError(sd.createHttpNamespace({ Name: name }), 'NamespaceAlreadyExists', 400);
      assert.equal(nsErr.NamespaceId, nsId);
      assert.equal(nsErr.CreatorRequestId, token);

      const srvErr = await expectError(
        sd.createService({ Name: 'checkout', NamespaceId: nsId, HealthCheckCustomConfig: { FailureThreshold: 1 } }),
        'ServiceAlreadyExists',
        400,
      );
      assert.equal(srvErr.ServiceId, srvId);
      assert.equal(srvErr.ServiceArn, srvArn);
      assert.equal(srvErr.CreatorRequestId, srvToken);
    });

    step('invalid input', async () => {
      const [nsId, srvId] = need('nsId', 'srvId');
      await expectError(sd.createHttpNamespace({ Name: 'not a valid name' }), 'InvalidInput', 400);
      await expectError(sd.createService({ Name: 'bad name!', NamespaceId: nsId }), 'InvalidInput', 400);
      await expectError(
        sd.createService({ Name: 'dns-in-http', NamespaceId: nsId, DnsConfig: { DnsRecords: [{ Type: 'A', TTL: 60 }] } }),
        'InvalidInput',
        400,
      );
      await expectError(sd.updateService({ Id: srvId, Service: { Description: 'new description' } }), 'InvalidInput', 400);
      // Route 53 and custom health checks exclude each other.
      await expectError(
        sd.createService({
          Name: 'both-checks',
          NamespaceId: nsId,
          HealthCheckConfig: { Type: 'HTTP', ResourcePath: '/health' },
          HealthCheckCustomConfig: { FailureThreshold: 1 },
        }),
        'InvalidInput',
        400,
      );
      // At most 30 custom attributes per instance.
      const attrs = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`attr${i}`, 'x']));
      await expectError(sd.registerInstance({ ServiceId: srvId, InstanceId: 'too-many', Attributes: attrs }), 'InvalidInput', 400);
    });

    step('deregister every instance', async () => {
      const [srvId, name, revision] = need('srvId', 'nsName', 'revision', 'registerOps');
      const opIds = {};
      for (const InstanceId of ALL_CHECKOUT) {
        opIds[InstanceId] = (await sd.deregisterInstance({ ServiceId: srvId, InstanceId })).OperationId;
      }
      for (const [instanceId, opId] of Object.entries(opIds)) {
        const op = await waitForOperation(sd, opId);
        assert.equal(op.Type, 'DEREGISTER_INSTANCE');
        assert.equal(op.Targets.INSTANCE, instanceId);
        assert.equal(op.Targets.SERVICE, srvId);
      }
      assert.deepEqual((await sd.listInstances({ ServiceId: srvId })).Instances ?? [], []);
      assert.equal((await sd.getService({ Id: srvId })).Service.InstanceCount, 0);
      const gone = await sd.discoverInstances({ NamespaceName: name, ServiceName: 'checkout', HealthStatus: 'ALL' });
      assert.deepEqual(gone.Instances, []);
      assert.ok(Number(gone.InstancesRevision) > revision, 'deregistering moves the instances revision');
      await expectError(sd.getInstance({ ServiceId: srvId, InstanceId: 'checkout-1' }), 'InstanceNotFound', 404);
      story.deregistered = true;
    });

    step('delete the service', async () => {
      const [nsId, srvId, srvArn] = need('nsId', 'srvId', 'srvArn', 'deregistered');
      await sd.deleteService({ Id: srvId });
      await expectError(sd.getService({ Id: srvId }), 'ServiceNotFound', 404);
      await expectError(sd.getServiceAttributes({ ServiceId: srvId }), 'ServiceNotFound', 404);
      await expectError(sd.listTagsForResource({ ResourceARN: srvArn }), 'ResourceNotFoundException', 404);
      assert.equal((await sd.getNamespace({ Id: nsId })).Namespace.ServiceCount, 0);
      story.serviceDeleted = true;
    });

    step('delete the namespace', async () => {
      const [nsId, name, createOp] = need('nsId', 'nsName', 'nsCreateOp', 'serviceDeleted');
      const { OperationId: opId } = await sd.deleteNamespace({ Id: nsId });
      assert.match(opId, OPERATION_ID);
      const { Operation: first } = await sd.getOperation({ OperationId: opId });
      assert.equal(first.Type, 'DELETE_NAMESPACE');
      assert.equal(first.Targets.NAMESPACE, nsId);

      await waitForOperation(sd, opId);
      await expectError(sd.getNamespace({ Id: nsId }), 'NamespaceNotFound', 404);
      await expectError(sd.discoverInstances({ NamespaceName: name, ServiceName: 'checkout' }), 'NamespaceNotFound', 404);
      assert.deepEqual((await sd.listNamespaces({ Filters: [{ Name: 'NAME', Values: [name] }] })).Namespaces, []);

      // Operations outlive what they targeted.
      assert.equal((await sd.getOperation({ OperationId: opId })).Operation.Status, 'SUCCESS');
      assert.equal((await sd.getOperation({ OperationId: createOp })).Operation.Status, 'SUCCESS');
    });
  });

  describe(`private DNS namespace story (${protocol})`, () => {
    const { story, need, step } = storyline();
    const VPC = 'vpc-0a1b2c3d4e5f67890';
    let sd;
    before(() => {
      sd = serviceDiscovery(protocol);
    });

    step('create a private DNS namespace', async () => {
      const name = `${unique('inventory')}.internal`;
      const { OperationId } = await sd.createPrivateDnsNamespace({
        Name: name,
        Vpc: VPC,
        Description: 'inventory services',
        Properties: { DnsProperties: { SOA: { TTL: 60 } } },
      });
      const op = await waitForOperation(sd, OperationId);
      assert.equal(op.Type, 'CREATE_NAMESPACE');
      const nsId = op.Targets.NAMESPACE;
      assert.match(nsId, NAMESPACE_ID);

      const { Namespace: ns } = await sd.getNamespace({ Id: nsId });
      assert.equal(ns.Name, name);
      assert.equal(ns.Type, 'DNS_PRIVATE');
      assert.match(ns.Properties.DnsProperties.HostedZoneId, HOSTED_ZONE_ID);
      assert.deepEqual(plain(ns.Properties.DnsProperties.SOA), { TTL: 60 });
      assert.equal(ns.Properties.HttpProperties.HttpName, name);
      Object.assign(story, { nsId, nsName: name });
    });

    step('create a DNS service with an A record', async () => {
      const [nsId] = need('nsId');
      const { Service: svc } = await sd.createService({
        Name: 'api',
        NamespaceId: nsId,
        DnsConfig: { RoutingPolicy: 'MULTIVALUE', DnsRecords: [{ Type: 'A', TTL: 30 }] },
      });
      assert.equal(svc.Type, 'DNS_HTTP');
      assert.equal(svc.NamespaceId, nsId);
      // The deprecated DnsConfig.NamespaceId is echoed (Terraform depends on it).
      assert.equal(svc.DnsConfig.NamespaceId, nsId);
      assert.equal(svc.DnsConfig.RoutingPolicy, 'MULTIVALUE');
      assert.deepEqual(plain(svc.DnsConfig.DnsRecords), [{ Type: 'A', TTL: 30 }]);

      const { Service: got } = await sd.getService({ Id: svc.Id });
      assert.equal(got.Type, 'DNS_HTTP');
      assert.equal(got.DnsConfig.NamespaceId, nsId);
      assert.deepEqual(plain(got.DnsConfig.DnsRecords), [{ Type: 'A', TTL: 30 }]);
      story.srvId = svc.Id;

      // No Route 53 health checks in private namespaces.
      await expectError(
        sd.createService({
          Name: 'checked',
          NamespaceId: nsId,
          DnsConfig: { DnsRecords: [{ Type: 'A', TTL: 30 }] },
          HealthCheckConfig: { Type: 'HTTP', ResourcePath: '/health' },
        }),
        'InvalidInput',
        400,
      );
    });

    step('a Terraform-style service names the namespace only in DnsConfig', async () => {
      const [nsId] = need('nsId');
      const { Service: svc } = await sd.createService({
        Name: 'legacy',
        DnsConfig: { NamespaceId: nsId, DnsRecords: [{ Type: 'A', TTL: 10 }] },
      });
      assert.equal(svc.NamespaceId, nsId);
      assert.equal(svc.DnsConfig.NamespaceId, nsId);
      await sd.deleteService({ Id: svc.Id });
    });

    step('A records need an IPv4 address', async () => {
      const [srvId] = need('srvId');
      await expectError(sd.registerInstance({ ServiceId: srvId, InstanceId: 'api-1', Attributes: { stage: 'prod' } }), 'InvalidInput', 400);

      const { OperationId } = await sd.registerInstance({
        ServiceId: srvId,
        InstanceId: 'api-1',
        Attributes: { AWS_INSTANCE_IPV4: '10.0.3.4', stage: 'prod' },
      });
      const op = await waitForOperation(sd, OperationId);
      assert.equal(op.Type, 'REGISTER_INSTANCE');
      assert.equal(op.Targets.INSTANCE, 'api-1');
      assert.equal(op.Targets.SERVICE, srvId);
      story.registered = true;
    });

    step('discovery without health checks reports UNKNOWN', async () => {
      const [name, srvId] = need('nsName', 'srvId', 'registered');
      // The service has no custom health check.
      await expectError(
        sd.updateInstanceCustomHealthStatus({ ServiceId: srvId, InstanceId: 'api-1', Status: 'UNHEALTHY' }),
        'CustomHealthNotFound',
        404,
      );
      // No health check configured: HealthStatus is ignored and every instance is UNKNOWN.
      const found = await sd.discoverInstances({ NamespaceName: name, ServiceName: 'api', HealthStatus: 'HEALTHY' });
      assert.deepEqual(plain(found.Instances), [
        {
          InstanceId: 'api-1',
          NamespaceName: name,
          ServiceName: 'api',
          HealthStatus: 'UNKNOWN',
          Attributes: { AWS_INSTANCE_IPV4: '10.0.3.4', stage: 'prod' },
        },
      ]);
    });

    step('update the record TTL', async () => {
      const [nsId, srvId] = need('nsId', 'srvId');
      const { OperationId } = await sd.updateService({
        Id: srvId,
        Service: { Description: 'inventory API', DnsConfig: { DnsRecords: [{ Type: 'A', TTL: 120 }] } },
      });
      const op = await waitForOperation(sd, OperationId);
      assert.equal(op.Type, 'UPDATE_SERVICE');
      assert.equal(op.Targets.SERVICE, srvId);

      const { Service: svc } = await sd.getService({ Id: srvId });
      assert.equal(svc.Description, 'inventory API');
      assert.deepEqual(plain(svc.DnsConfig.DnsRecords), [{ Type: 'A', TTL: 120 }]);
      assert.equal(svc.DnsConfig.NamespaceId, nsId);

      // Record types are fixed at creation.
      await expectError(
        sd.updateService({ Id: srvId, Service: { DnsConfig: { DnsRecords: [{ Type: 'AAAA', TTL: 120 }] } } }),
        'InvalidInput',
        400,
      );
    });

    step('tear down', async () => {
      const [nsId, srvId] = need('nsId', 'srvId', 'registered');
      await waitForOperation(sd, (await sd.deregisterInstance({ ServiceId: srvId, InstanceId: 'api-1' })).OperationId);
      await sd.deleteService({ Id: srvId });
      const op = await waitForOperation(sd, (await sd.deleteNamespace({ Id: nsId })).OperationId);
      assert.equal(op.Type, 'DELETE_NAMESPACE');
      assert.equal(op.Targets.NAMESPACE, nsId);
      await expectError(sd.getNamespace({ Id: nsId }), 'NamespaceNotFound', 404);
    });
  });
}
