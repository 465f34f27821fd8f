import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { consolePage, consoleSignInPage, describeAge, type ConsoleView } from './console-views.js';

const now = new Date('2026-12-05T03:00:00Z');
const view: ConsoleView = {
  serverName: 'auth.example.com',
  operatorName: 'Ada <Lovelace>',
  role: 'admin',
  csrfToken: 'csrf-token-value',
  notice: null,
  counts: { resourceServers: 2, dynamicClients: 3, metadataDocumentClients: 4, preRegisteredClients: 5, users: 6, liveGrants: 7, identityProviders: 0 },
  warnings: ['Keys <old>'],
  keys: [
    { kid: 'kid-next', state: 'next', createdAt: new Date('2026-12-05T02:58:30Z') },
    { kid: 'kid-active', state: 'active', createdAt: new Date('2026-09-01T03:00:00Z') },
  ],
  now,
  devLogin: false,
};

describe('the console overview page', () => {
  it('shows the operator, the warnings, every count and the keys, escaping what it shows', () => {
    const out = consolePage(view);
    assert.match(out, /Signed in as <strong>Ada &lt;Lovelace&gt;<\/strong>, <strong>admin<\/strong>/);
    assert.match(out, /<li>Keys &lt;old&gt;<\/li>/);
    for (const [label, value] of [['Resource servers', 2], ['Dynamic clients', 3], ['Metadata-document clients', 4], ['Pre-registered clients', 5], ['Users', 6], ['Live grants', 7]]) {
      assert.match(out, new RegExp(`<dt>${label}</dt><dd>${value}</dd>`), String(label));
    }
    assert.match(out, /<td><code>kid-next<\/code><\/td><td>next<\/td><td><time datetime="2026-12-05T02:58:30.000Z"[^>]*>1 minute<\/time>/);
    assert.match(out, /<td><code>kid-active<\/code><\/td><td>active<\/td><td><time[^>]*>95 days<\/time>/);
    assert.match(out, /<main class="wide">/);
  });

  it('offers an admin the Rotate keys form with the CSRF token, and a viewer no form but sign-out', () => {
    const admin = consolePage(view);
    assert.match(admin, /<form method="post" action="\/console\/keys\/rotate">\s*<input type="hidden" name="csrf_token" value="csrf-token-value">/);
    const viewer = consolePage({ ...view, role: 'viewer' });
    assert.doesNotMatch(viewer, /keys\/rotate/);
    assert.doesNotMatch(viewer, /Rotate keys/);
    assert.match(viewer, /action="\/console\/sign-out"/);
    assert.match(viewer, /you can look, not change/);
  });

  it('says when there are no warnings, and carries the development banner while DEV_LOGIN is on', () => {
    const out = consolePage({ ...view, warnings: [], devLogin: true });
    assert.match(out, /<h2 id="warnings-title">Warnings<\/h2>\s*<p>None\.<\/p>/);
    assert.match(out, /class="banner" role="alert"/);
  });

  it('signs in through the console’s own starts, or says that no provider is configured', () => {
    const out = consoleSignInPage({ serverName: 'auth.example.com', providers: [{ id: 'github', name: 'GitHub', href: '/console/login/github' }], notice: 'signed-out', devLogin: false });
    assert.match(out, /<a class="button primary" href="\/console\/login\/github">Continue with GitHub<\/a>/);
    assert.match(out, /You are signed out\./);
    assert.match(consoleSignInPage({ serverName: 'a', providers: [], notice: null, devLogin: false }), /No sign-in method is configured/);
  });
});

describe('describeAge', () => {
  it('reads in the largest unit that still says something', () => {
    assert.equal(describeAge(-5), 'under a minute');
    assert.equal(describeAge(59_999), 'under a minute');
    assert.equal(describeAge(60_000), '1 minute');
    assert.equal(describeAge(59 * 60_000), '59 minutes');
    assert.equal(describeAge(3_600_000), '1 hour');
    assert.equal(describeAge(47 * 3_600_000), '47 hours');
    assert.equal(describeAge(48 * 3_600_000), '2 days');
  });
});
