import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { overviewWarnings, type WarningFacts } from './console.service.js';
import { matches } from './operators.service.js';

const now = new Date('2026-12-05T03:00:00Z');
const days = (n: number) => new Date(now.getTime() - n * 86_400_000);
const calm: WarningFacts = {
  githubConfigured: true,
  counts: { identityProviders: 0 },
  openResourceNames: [],
  devLogin: false,
  keys: [{ kid: 'a', alg: 'ES256', state: 'active', createdAt: days(200), activatedAt: days(10), retiredAt: null }],
  keyRotationMs: 0,
  now,
};

describe('the overview warnings', () => {
  it('says nothing when all is well', () => {
    assert.deepEqual(overviewWarnings(calm), []);
    assert.deepEqual(overviewWarnings({ ...calm, githubConfigured: false, counts: { identityProviders: 1 } }), [], 'an OIDC provider is enough');
  });

  it('warns of no provider, each open resource server, development sign-in and an active key past 90 days', () => {
    const warnings = overviewWarnings({
      githubConfigured: false,
      counts: { identityProviders: 0 },
      openResourceNames: ['Docs', 'Tasks'],
      devLogin: true,
      keys: [{ kid: 'a', alg: 'ES256', state: 'active', createdAt: days(91), activatedAt: null, retiredAt: null }],
      keyRotationMs: 0,
      now,
    });
    assert.equal(warnings.length, 5, warnings.join('\n'));
    assert.match(warnings[0]!, /No identity provider is configured/);
    assert.match(warnings[1]!, /sign-in policy of Docs admits everyone/);
    assert.match(warnings[2]!, /sign-in policy of Tasks admits everyone/);
    assert.match(warnings[3]!, /DEV_LOGIN/);
    assert.match(warnings[4]!, /more than 90 days: rotate/);
  });

  it('counts a key’s age from when it started signing, not from when it was published', () => {
    assert.deepEqual(overviewWarnings({ ...calm, keys: [{ kid: 'a', alg: 'ES256', state: 'active', createdAt: days(200), activatedAt: days(89), retiredAt: null }] }), []);
    assert.equal(overviewWarnings({ ...calm, keys: [{ kid: 'a', alg: 'ES256', state: 'active', createdAt: days(200), activatedAt: days(91), retiredAt: null }] }).length, 1);
  });

  it('with KEY_ROTATION_DAYS, warns only when scheduled rotation is over an hour late', () => {
    const activeFor = (ms: number) => [{ kid: 'a', alg: 'ES256' as const, state: 'active' as const, createdAt: days(400), activatedAt: new Date(now.getTime() - ms), retiredAt: null }];
    const withSchedule = { ...calm, keyRotationMs: 180 * 86_400_000 };
    assert.deepEqual(overviewWarnings({ ...withSchedule, keys: activeFor(120 * 86_400_000) }), [], 'past 90 days is fine when the schedule says 180');
    assert.deepEqual(overviewWarnings({ ...withSchedule, keys: activeFor(180 * 86_400_000 + 3_000_000) }), [], 'not yet an hour late');
    const [warning, ...more] = overviewWarnings({ ...withSchedule, keys: activeFor(180 * 86_400_000 + 3_700_000) });
    assert.equal(more.length, 0);
    assert.match(warning ?? '', /KEY_ROTATION_DAYS \(180\) allows: scheduled rotation is failing/);
  });
});

describe('CONSOLE_ADMINS matching', () => {
  it('matches the provider exactly and the login in any case, like the CLI finds PROVIDER:LOGIN', () => {
    assert.ok(matches({ provider: 'github', login: 'Alice' }, { provider: 'github', login: 'alice', email: null }));
    assert.ok(matches({ provider: 'oidc:corp', login: 'bob' }, { provider: 'oidc:corp', login: 'BOB', email: null }));
    assert.ok(!matches({ provider: 'github', login: 'alice' }, { provider: 'dev', login: 'alice', email: null }));
    assert.ok(!matches({ provider: 'oidc:corp', login: 'bob' }, { provider: 'oidc:other', login: 'bob', email: null }));
    assert.ok(!matches({ provider: 'github', login: 'alice' }, { provider: 'github', login: null, email: 'alice' }));
  });
});
