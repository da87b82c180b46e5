// AWS RAM through the AWS SDK for JavaScript v3 (`@aws-sdk/client-ram`, restJson1): an owner
// shares a Cloud Map namespace, the consumer accepts the invitation, an outsider sees nothing,
// the consumer leaves and the owner deletes the share; then the refusals, paging and client tokens.
//
// Behaviour reference: shared/reference/sharing.md §3.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RAM, paginateGetResourceShares } from '@aws-sdk/client-ram';
import { ServiceDiscovery } from '@aws-sdk/client-servicediscovery';
import { REGION, startLocalplane } from './localplane.mjs';

const OWNER = '411111111111';
const CONSUMER = '422222222222';
const OUTSIDER = '433333333333';

const creds = (account) => ({ accessKeyId: account, secretAccessKey: 'localplane-test-secret' });

let server;
const ram = (account) => new RAM({ region: REGION, endpoint: server.endpoint, credentials: creds(account), maxAttempts: 1 });

async function httpNamespace(account, name) {
  const sd = new ServiceDiscovery({ region: REGION, endpoint: server.endpoint, credentials: creds(account), maxAttempts: 1 });
  const { OperationId } = await sd.createHttpNamespace({ Name: name });
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(50)) {
    const { Operation } = await sd.getOperation({ OperationId });
    if (Operation.Status === 'SUCCESS') {
      return (await sd.getNamespace({ Id: Operation.Targets.NAMESPACE })).Namespace.Arn;
    }
    assert.notEqual(Operation.Status, 'FAIL');
  }
  throw new Error(`namespace ${name} was not created`);
}

async function association(client, share, kind, entity) {
  const out = await client.getResourceShareAssociations({ associationType: kind, resourceShareArns: [share] });
  return out.resourceShareAssociations.find((a) => a.associatedEntity === entity);
}

async function waitAssociation(client, share, kind, entity, status) {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(50)) {
    const row = await association(client, share, kind, entity);
    if (row.status === status) return row;
  }
  throw new Error(`${entity} did not become ${status}`);
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

describe('sharing a namespace', () => {
  test('share, accept, leave, delete', async () => {
    const [o, c, x] = [ram(OWNER), ram(CONSUMER), ram(OUTSIDER)];
    const ns = await httpNamespace(OWNER, 'js-shared');
    const { resourceShare } = await o.createResourceShare({ name: 'cm', resourceArns: [ns], principals: [CONSUMER] });
    const arn = resourceShare.resourceShareArn;
    assert.match(arn, new RegExp(`^arn:aws:ram:${REGION}:${OWNER}:resource-share/`));
    assert.equal(resourceShare.status, 'ACTIVE');
    assert.ok(resourceShare.creationTime instanceof Date && resourceShare.creationTime.getFullYear() >= 2025);
    await waitAssociation(o, arn, 'RESOURCE', ns, 'ASSOCIATED');
    assert.equal((await association(o, arn, 'PRINCIPAL', CONSUMER)).status, 'ASSOCIATING');

    const { resourceShareInvitations } = await c.getResourceShareInvitations({ resourceShareArns: [arn] });
    assert.deepEqual(resourceShareInvitations.map((i) => i.status), ['PENDING']);
    const inv = resourceShareInvitations[0].resourceShareInvitationArn;
    assert.deepEqual((await x.getResourceShareInvitations({})).resourceShareInvitations, []);
    await rejects(x.acceptResourceShareInvitation({ resourceShareInvitationArn: inv }), 'ResourceShareInvitationArnNotFoundException');

    const accepted = await c.acceptResourceShareInvitation({ resourceShareInvitationArn: inv });
    assert.equal(accepted.resourceShareInvitation.status, 'ACCEPTED');
    assert.equal((await association(o, arn, 'PRINCIPAL', CONSUMER)).status, 'ASSOCIATED');
    const theirs = await c.getResourceShares({ resourceOwner: 'OTHER-ACCOUNTS' });
    assert.deepEqual(theirs.resourceShares.map((s) => s.resourceShareArn), [arn]);
    assert.deepEqual((await x.getResourceShares({ resourceOwner: 'OTHER-ACCOUNTS' })).resourceShares, []);
    const listed = await c.listResources({ resourceOwner: 'OTHER-ACCOUNTS' });
    assert.deepEqual(listed.resources.map((r) => [r.arn, r.type]), [[ns, 'servicediscovery:Namespace']]);

    await rejects(c.updateResourceShare({ resourceShareArn: arn, name: 'mine' }), 'UnknownResourceException');
    const left = await c.disassociateResourceShare({ resourceShareArn: arn, principals: [CONSUMER] });
    assert.equal(left.resourceShareAssociations[0].status, 'DISASSOCIATING');
    await waitAssociation(o, arn, 'PRINCIPAL', CONSUMER, 'DISASSOCIATED');

    assert.equal((await o.deleteResourceShare({ resourceShareArn: arn })).returnValue, true);
    for (const deadline = Date.now() + 20_000; ; await sleep(50)) {
      const [share] = (await o.getResourceShares({ resourceOwner: 'SELF', resourceShareArns: [arn] })).resourceShares;
      if (share.status === 'DELETED') break;
      assert.ok(Date.now() < deadline, `the share stayed ${share.status}`);
    }
    await rejects(o.deleteResourceShare({ resourceShareArn: arn }), 'UnknownResourceException');
  });

  test('refusals, paging and client tokens', async () => {
    const o = ram(OWNER);
    const ns = await httpNamespace(OWNER, 'js-errors');
    await rejects(o.createResourceShare({ name: 'bad', principals: ['12345'] }), 'InvalidParameterException');
    await rejects(o.createResourceShare({ name: 'bad', resourceArns: ['nope'] }), 'MalformedArnException');
    await rejects(o.createResourceShare({ name: 'bad', resourceArns: [`${ns}x`] }), 'UnknownResourceException');
    await rejects(o.enableSharingWithAwsOrganization({}), 'OperationNotPermittedException');
    await rejects(o.getResourceShareInvitations({ maxResults: 501 }), 'InvalidMaxResultsException');

    const before = (await o.getResourceShares({ resourceOwner: 'SELF' })).resourceShares.length;
    for (let i = 0; i < 5; i++) await o.createResourceShare({ name: `js-page-${i}` });
    const names = [];
    for await (const page of paginateGetResourceShares({ client: o, pageSize: 2 }, { resourceOwner: 'SELF' })) {
      assert.ok(page.resourceShares.length <= 2);
      names.push(...page.resourceShares.map((s) => s.name));
    }
    assert.equal(names.length, before + 5);
    assert.deepEqual(names.slice(-5), [0, 1, 2, 3, 4].map((i) => `js-page-${i}`));

    const first = await o.createResourceShare({ name: 'idem', resourceArns: [ns], clientToken: 'js-tok' });
    const again = await o.createResourceShare({ name: 'idem', resourceArns: [ns], clientToken: 'js-tok' });
    assert.equal(again.resourceShare.resourceShareArn, first.resourceShare.resourceShareArn);
    await rejects(o.createResourceShare({ name: 'other', clientToken: 'js-tok' }), 'IdempotentParameterMismatchException');
  });
});
