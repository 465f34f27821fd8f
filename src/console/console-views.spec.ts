import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { consoleSignInPage, describeAge, keysPage, overviewPage, type OverviewView } from './console-views.js';
import type { SignedInOperator } from './console-layout.js';
import { activityView, activityWindow } from './console-activity.js';

const now = new Date('2026-12-05T03:00:00Z');
const admin: SignedInOperator = { userId: 'u1', name: 'Ada <Lovelace>', role: 'admin', csrfToken: 'csrf-token-value', serverName: 'auth.example.com', devLogin: false };
const viewer: SignedInOperator = { ...admin, role: 'viewer' };
const overview: OverviewView = {
  counts: { resourceServers: 2, dynamicClients: 3, metadataDocumentClients: 4, preRegisteredClients: 5, users: 6, liveGrants: 7, identityProviders: 0 },
  warnings: ['Keys <old>'],
  activity: activityView(activityWindow('day', now), [{ bucket: 23, type: 'token.issued', reason: null, policy: null, events: 2 }]),
};
const keys = [
  { kid: 'kid-next', alg: 'RS256', state: 'next' as const, createdAt: new Date('2026-12-05T02:58:30Z') },
  { kid: 'kid-active', alg: 'ES256', state: 'active' as const, createdAt: new Date('2026-09-01T03:00:00Z') },
];

describe('the console frame', () => {
  it('names the operator and role, links every section, marks the current one, and escapes what it shows', () => {
    const out = overviewPage(admin, overview);
    assert.match(out, /<span class="who">Ada &lt;Lovelace&gt;, admin<\/span>/);
    assert.match(out, /<nav class="sections" aria-label="Console sections">/);
    for (const href of ['/console', '/console/resources', '/console/clients', '/console/users', '/console/audit', '/console/keys']) {
      assert.match(out, new RegExp(`<a href="${href}"`), href);
    }
    assert.match(out, /<a href="\/console" aria-current="page">Overview<\/a>/);
    assert.match(keysPage(admin, keys, now, null), /<a href="\/console\/keys" aria-current="page">Keys<\/a>/);
    assert.match(out, /<main class="wide">/);
  });

  it('offers sign-out with the CSRF token to both roles and tells a viewer they can only look', () => {
    assert.match(overviewPage(viewer, overview), /action="\/console\/sign-out"><input type="hidden" name="csrf_token" value="csrf-token-value">/);
    assert.match(overviewPage(viewer, overview), /you can look, not change/);
    assert.doesNotMatch(overviewPage(admin, overview), /you can look, not change/);
  });
});

describe('the console overview page', () => {
  it('shows the warnings and every count', () => {
    const out = overviewPage(admin, overview);
    assert.match(out, /<li>Keys &lt;old&gt;<\/li>/);
    for (const [label, value] of [['Resource servers', 2], ['Dynamic clients', 3], ['Metadata-document clients', 4], ['Pre-registered clients', 5], ['Users', 6], ['Live grants', 7]]) {
      assert.match(out, new RegExp(`<dt>${label}</dt><dd>${value}</dd>`), String(label));
    }
  });

  it('draws the activity of the chosen range after the counts, with the range switch', () => {
    const out = overviewPage(admin, overview);
    assert.ok(out.indexOf('id="counts-title"') < out.indexOf('id="activity-title"'), 'the charts come after the counts');
    assert.match(out, /<h2 id="activity-title">Activity in the last day<\/h2>/);
    assert.match(out, /<a href="\/console\?range=day" aria-current="page">Last day<\/a>/);
    assert.match(out, /<h3 id="chart-1-name">Tokens issued<\/h3>\s*<p><strong>2<\/strong> in the last day/);
    assert.match(out, /svg\.bars \.bar \{ fill:var\(--accent\); \}/, 'the chart styles are on the page');
  });

  it('says when there are no warnings, and carries the development banner while DEV_LOGIN is on', () => {
    const out = overviewPage({ ...admin, devLogin: true }, { ...overview, warnings: [] });
    assert.match(out, /<h2 id="warnings-title">Warnings<\/h2>\s*<p>None\.<\/p>/);
    assert.match(out, /class="banner" role="alert"/);
  });
});

describe('the console keys page', () => {
  it('lists each key with its algorithm, state and age', () => {
    const out = keysPage(admin, keys, now, null);
    assert.match(out, /<td><code>kid-next<\/code><\/td><td>RS256<\/td><td>next<\/td><td><time datetime="2026-12-05T02:58:30.000Z"[^>]*>1 minute<\/time>/);
    assert.match(out, /<td><code>kid-active<\/code><\/td><td>ES256<\/td><td>active<\/td><td><time[^>]*>95 days<\/time>/);
  });

  it('offers an admin the Rotate keys form with the CSRF token, and a viewer none', () => {
    assert.match(keysPage(admin, keys, now, null), /<form method="post" action="\/console\/keys\/rotate">\s*<input type="hidden" name="csrf_token" value="csrf-token-value">/);
    assert.doesNotMatch(keysPage(viewer, keys, now, null), /keys\/rotate|Rotate keys/);
  });
});

describe('the console sign-in page', () => {
  it('signs in through the console’s own starts, or says that no provider is configured', () => {
    const out = consoleSignInPage({ serverName: 'auth.example.com', providers: [{ id: 'github', name: 'GitHub', href: '/console/login/github' }], notice: 'You are signed out.', devLogin: false });
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
