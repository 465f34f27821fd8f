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
