// AWS STS through the AWS SDK for JavaScript v3: GetCallerIdentity (query protocol, XML) answers
// the account of the access key, as Terraform and scripts ask it first; other actions are refused
// with InvalidAction, saying that only GetCallerIdentity is served.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { ACCOUNT, CREDENTIALS, REGION, startLocalplane } from './localplane.mjs';

let server;
const sts = (credentials = CREDENTIALS) =>
  new STSClient({ region: REGION, endpoint: server.endpoint, credentials, maxAttempts: 1 });

before(async () => {
  server = await startLocalplane();
});

after(async () => {
  await server?.stop();
});

test('GetCallerIdentity answers the account, ARN and user id of the access key', async () => {
  const me = await sts().send(new GetCallerIdentityCommand({}));
  assert.equal(me.Account, ACCOUNT);
  assert.equal(me.Arn, `arn:aws:iam::${ACCOUNT}:user/localplane`);
  assert.match(me.UserId, /^AIDA[A-Z2-7]{17}$/);
  const other = await sts({ accessKeyId: '210987654321', secretAccessKey: 'x' }).send(new GetCallerIdentityCommand({}));
  assert.equal(other.Account, '210987654321');
  assert.notEqual(other.UserId, me.UserId);
});

test('other actions are refused with InvalidAction', async () => {
  await assert.rejects(sts().send(new GetSessionTokenCommand({})), (e) => {
    assert.equal(e.name, 'InvalidAction', `${e.name}: ${e.message}`);
    assert.equal(e.message, 'localplane serves only GetCallerIdentity of AWS STS; GetSessionToken is not served');
    assert.equal(e.$metadata.httpStatusCode, 400);
    return true;
  });
});
