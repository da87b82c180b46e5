// Cloud Map across accounts through the AWS SDK for JavaScript v3: an owner shares a namespace with
// a consumer through RAM; the consumer creates a service and registers an instance by ARN, reads
// its operation with OwnerAccount and discovers with OwnerAccount; an outsider is refused; taking
// the namespace out of the share cuts the consumer off and deletes nothing.
//
// Behaviour reference: shared/reference/sharing.md §2.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RAM } from '@aws-sdk/client-ram';
import { ServiceDiscovery } from '@aws-sdk/client-servicediscovery';
import { REGION, startLocalplane } from './localplane.mjs';

const OWNER = '511111111111';
const CONSUMER = '522222222222';
const OUTSIDER = '533333333333';

let server;
const creds = (account) => ({ accessKeyId: account, secretAccessKey: 'localplane-test-secret' });
const ram = (account) => new RAM({ region: REGION, endpoint: server.endpoint, credentials: creds(account), maxAttempts: 1 });
const sd = (account) =>
  new ServiceDiscovery({
    region: REGION,
    endpoint: server.endpoint,
    credentials: creds(account),
    maxAttempts: 1,
    disableHostPrefix: true,
  });

async function until(what, probe) {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(50)) {
    const value = await probe();
    if (value) return value;
  }
  throw new Error(`${what} did not happen`);
}

async function rejects(promise, name) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, err.message);
    return true;
  });
}

before(async () => {
  server = await startLocalplane();
});

after(async () => {
  await server?.stop();
});

describe('a shared namespace', () => {
  test('the consumer works in it by ARN, the outsider is refused, revocation deletes nothing', async () => {
    const [sdO, sdC, sdX] = [sd(OWNER), sd(CONSUMER), sd(OUTSIDER)];
    const { OperationId } = await sdO.createHttpNamespace({ Name: 'js-shared' });
    const created = await until('CREATE_NAMESPACE', async () => {
      const { Operation } = await sdO.getOperation({ OperationId });
      return Operation.Status === 'SUCCESS' && Operation;
    });
    const nsId = created.Targets.NAMESPACE;
    const nsArn = `arn:aws:servicediscovery:${REGION}:${OWNER}:namespace/${nsId}`;
    await rejects(sdC.getNamespace({ Id: nsArn }), 'AccessDeniedException');

    const { resourceShare } = await ram(OWNER).createResourceShare({
      name: 'js',
      resourceArns: [nsArn],
      principals: [CONSUMER],
    });
    const { resourceShareInvitations } = await ram(CONSUMER).getResourceShareInvitations({
      resourceShareArns: [resourceShare.resourceShareArn],
    });
    await ram(CONSUMER).acceptResourceShareInvitation({
      resourceShareInvitationArn: resourceShareInvitations[0].resourceShareInvitationArn,
    });
    const associated = async (status) => {
      const out = await ram(OWNER).getResourceShareAssociations({
        associationType: 'RESOURCE',
        resourceShareArns: [resourceShare.resourceShareArn],
      });
      return out.resourceShareAssociations[0]?.status === status;
    };
    await until('ASSOCIATED', () => associated('ASSOCIATED'));

    const { Namespace } = await sdC.getNamespace({ Id: nsArn });
    assert.equal(Namespace.ResourceOwner, OWNER);
    await rejects(sdC.getNamespace({ Id: nsId }), 'NamespaceNotFound');
    await rejects(sdX.getNamespace({ Id: nsArn }), 'AccessDeniedException');

    const { Service } = await sdC.createService({ Name: 'web', NamespaceId: nsArn });
    assert.ok(Service.Arn.includes(`:${OWNER}:service/`), Service.Arn);
    assert.deepEqual([Service.ResourceOwner, Service.CreatedByAccount], [OWNER, CONSUMER]);
    const reg = await sdC.registerInstance({ ServiceId: Service.Arn, InstanceId: 'i-1', Attributes: { k: 'v' } });
    await rejects(sdC.getOperation({ OperationId: reg.OperationId }), 'OperationNotFound');
    const done = await until('REGISTER_INSTANCE', async () => {
      const { Operation } = await sdC.getOperation({ OperationId: reg.OperationId, OwnerAccount: OWNER });
      return Operation.Status === 'SUCCESS' && Operation;
    });
    assert.equal(done.OwnerAccount, OWNER);
    const found = await sdC.discoverInstances({ NamespaceName: 'js-shared', ServiceName: 'web', OwnerAccount: OWNER });
    assert.deepEqual(found.Instances.map((i) => i.InstanceId), ['i-1']);
    await rejects(
      sdX.discoverInstances({ NamespaceName: 'js-shared', ServiceName: 'web', OwnerAccount: OWNER }),
      'NamespaceNotFound',
    );
    await rejects(sdC.deleteNamespace({ Id: nsArn }), 'AccessDeniedException');

    await ram(OWNER).disassociateResourceShare({ resourceShareArn: resourceShare.resourceShareArn, resourceArns: [nsArn] });
    await until('DISASSOCIATED', () => associated('DISASSOCIATED'));
    await rejects(sdC.getService({ Id: Service.Arn }), 'AccessDeniedException');
    const kept = await sdO.getService({ Id: Service.Id });
    assert.deepEqual([kept.Service.CreatedByAccount, kept.Service.InstanceCount], [CONSUMER, 1]);
  });
});
