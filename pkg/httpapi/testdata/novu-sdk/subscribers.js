// Drives Herald with Novu's official Node SDK. Run by TestNovuNodeSDK with
// HERALD_URL and HERALD_API_KEY set; exits non-zero on the first mismatch.
const assert = require('node:assert/strict');
const { Novu } = require('@novu/node');

const novu = new Novu(process.env.HERALD_API_KEY, { backendUrl: process.env.HERALD_URL });
const hook = 'https://hooks.slack.com/services/T000SDK/B000SDK/sdk-secret-token';

async function main() {
  const steps = [];
  let r = await novu.subscribers.identify('sdk-user', { firstName: 'Grace', email: 'grace@example.com', data: { team: 'core' } });
  assert.equal(r.status, 201);
  assert.equal(r.data.data.subscriberId, 'sdk-user');
  steps.push('identify');

  r = await novu.subscribers.update('sdk-user', { lastName: 'Hopper' });
  assert.equal(r.data.data.lastName, 'Hopper');
  assert.equal(r.data.data.firstName, 'Grace');
  steps.push('update');

  r = await novu.subscribers.get('sdk-user');
  assert.equal(r.data.data.email, 'grace@example.com');
  steps.push('get');

  await novu.subscribers.identify('sdk-user-2', {});
  r = await novu.subscribers.list(0, 1);
  assert.equal(r.data.totalCount, 2);
  assert.equal(r.data.pageSize, 1);
  assert.equal(r.data.hasMore, true);
  assert.equal(r.data.data.length, 1);
  steps.push('list');

  r = await novu.subscribers.setCredentials('sdk-user', 'slack', { webhookUrl: hook });
  assert.equal(r.status, 200);
  assert.equal(r.data.data.channels.length, 1);
  assert.equal(r.data.data.channels[0].providerId, 'slack');
  assert.ok(!JSON.stringify(r.data).includes('sdk-secret-token'), 'webhook URL must be masked');
  steps.push('setCredentials');

  r = await novu.subscribers.unsetCredentials('sdk-user', 'slack');
  assert.equal(r.status, 200);
  steps.push('unsetCredentials');

  r = await novu.subscribers.setCredentials('sdk-user', 'slack', { webhookUrl: hook }, 'slack-sdk');
  assert.equal(r.data.data.channels[0].integrationIdentifier, 'slack-sdk');
  r = await novu.subscribers.deleteCredentials('sdk-user', 'slack');
  assert.equal(r.status, 204);
  r = await novu.subscribers.get('sdk-user');
  assert.equal(r.data.data.channels.length, 0);
  steps.push('deleteCredentials');

  r = await novu.subscribers.delete('sdk-user');
  assert.deepEqual(r.data.data, { acknowledged: true, status: 'deleted' });
  try {
    await novu.subscribers.get('sdk-user');
    assert.fail('deleted subscriber still found');
  } catch (err) {
    assert.equal(err.response.status, 404);
    assert.equal(err.response.data.message, 'Subscriber not found for id sdk-user');
  }
  steps.push('delete');
  console.log(JSON.stringify({ ok: true, steps }));
}

main().catch((err) => {
  const detail = err.response ? { status: err.response.status, data: err.response.data } : String(err.stack || err);
  console.error(JSON.stringify({ ok: false, error: detail }));
  process.exit(1);
});
