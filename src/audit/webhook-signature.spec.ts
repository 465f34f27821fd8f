import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { signWebhook, verifyWebhookSignature } from './webhook-signature.js';

const secret = 'webhook-secret-0123456789-0123456789';
const body = JSON.stringify({ schema: 1, type: 'token.issued' });

describe('webhook signatures', () => {
  it('signs "<t>.<body>" with HMAC-SHA256 in hex, and verifies it', () => {
    const header = signWebhook(secret, body, 1_800_000_000);
    const expected = createHmac('sha256', secret).update(`1800000000.${body}`).digest('hex');
    assert.equal(header, `t=1800000000,v1=${expected}`);
    assert.ok(verifyWebhookSignature(secret, header, body, 300, 1_800_000_100));
  });

  it('refuses another body, another secret, a stale or future timestamp, and malformed headers', () => {
    const header = signWebhook(secret, body, 1_800_000_000);
    assert.ok(!verifyWebhookSignature(secret, header, body + ' ', 300, 1_800_000_000));
    assert.ok(!verifyWebhookSignature(`${secret}x`, header, body, 300, 1_800_000_000));
    assert.ok(!verifyWebhookSignature(secret, header, body, 300, 1_800_000_301));
    assert.ok(!verifyWebhookSignature(secret, header, body, 300, 1_799_999_699));
    for (const bad of [null, '', 't=1800000000', 'v1=00', `t=abc,v1=${'0'.repeat(64)}`, `t=1800000000,v1=${'zz'.repeat(32)}`]) {
      assert.ok(!verifyWebhookSignature(secret, bad, body, 300, 1_800_000_000), String(bad));
    }
  });
});
