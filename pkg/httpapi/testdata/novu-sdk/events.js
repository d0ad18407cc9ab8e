// Drives Herald's trigger and delivery-log API with Novu's official Node SDK.
// Run by TestNovuNodeSDKEvents (a worker with a fake provider runs in the test).
const assert = require('node:assert/strict');
const { Novu } = require('@novu/node');

const novu = new Novu(process.env.HERALD_API_KEY, { backendUrl: process.env.HERALD_URL });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn) {
  for (let i = 0; i < 200; i++) {
    const v = await fn();
    if (v) return v;
    await sleep(50);
  }
  throw new Error('timed out waiting for ' + what);
}

async function main() {
  const steps = [];
  let r = await novu.trigger('sdk-workflow', { to: { subscriberId: 'sdk-1', firstName: 'Ada' }, payload: { n: 1 }, transactionId: 'sdk-tx-1' });
  assert.equal(r.status, 201);
  assert.deepEqual(r.data.data, { acknowledged: true, status: 'processed', transactionId: 'sdk-tx-1' });
  steps.push('trigger');

  r = await novu.bulkTrigger([
    { name: 'sdk-workflow', to: 'sdk-1', payload: { n: 2 }, transactionId: 'sdk-tx-2' },
    { name: 'no-such-workflow', to: 'sdk-1', payload: {} },
    { name: 'sdk-workflow', to: ['sdk-1'], payload: { n: 3 }, transactionId: 'sdk-tx-3' },
  ]);
  assert.equal(r.status, 201);
  assert.equal(r.data.data.length, 3);
  assert.equal(r.data.data[0].status, 'processed');
  assert.equal(r.data.data[1].status, 'error');
  assert.equal(r.data.data[2].status, 'processed');
  steps.push('bulkTrigger');

  const msgs = await waitFor('three sent messages', async () => {
    const res = await novu.messages.list({ subscriberId: 'sdk-1', channel: 'chat', limit: 10 });
    const sent = res.data.data.filter((m) => m.status === 'sent');
    return sent.length === 3 ? res.data : null;
  });
  assert.equal(msgs.totalCount, 3);
  const first = msgs.data.find((m) => m.transactionId === 'sdk-tx-1');
  assert.ok(first, 'message of sdk-tx-1');
  assert.match(first.content, /Hello Ada #1/);
  steps.push('messages.list');

  r = await novu.messages.list({ transactionIds: ['sdk-tx-2', 'sdk-tx-3'] });
  assert.equal(r.data.data.length, 2);
  steps.push('messages.list by transactionIds');

  r = await novu.executionDetails.get({ notificationId: first._notificationId, subscriberId: 'sdk-1' });
  const details = r.data.data.map((d) => d.detail);
  assert.ok(details.includes('Message sent'), 'details: ' + details.join(', '));
  assert.equal(r.data.data.find((d) => d.detail === 'Message sent').status, 'Success');
  steps.push('executionDetails.get');

  r = await novu.messages.deleteById(first._id);
  assert.equal(r.status, 200);
  r = await novu.messages.deleteByTransactionId('sdk-tx-2');
  assert.equal(r.status, 204);
  r = await novu.messages.list({ subscriberId: 'sdk-1' });
  assert.equal(r.data.totalCount, 1);
  steps.push('messages.delete');

  console.log(JSON.stringify({ ok: true, steps }));
}

main().catch((err) => {
  const detail = err.response ? { status: err.response.status, url: err.config && err.config.url, data: err.response.data } : String(err.stack || err);
  console.error(JSON.stringify({ ok: false, error: detail }));
  process.exit(1);
});
