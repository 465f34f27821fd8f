import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { accountPage, accountSignInPage, formatUtc, type AccountView } from './account-views.js';

const view: AccountView = {
  serverName: 'auth.example.com',
  displayName: 'Ada <Lovelace>',
  identities: [{ providerName: 'GitHub', handle: 'ada"l' }],
  applications: [
    {
      grantId: '0f8b6c1e-0000-4000-8000-000000000000',
      name: '<img src=x onerror=alert(1)>',
      host: 'evil.example.com',
      resourceName: 'Docs & "Co"',
      resourceUrl: 'https://mcp.example.com/mcp',
      scopes: ['docs:read', 'docs:write'],
      scopeDescriptions: {},
      allowedAt: new Date('2026-12-04T22:45:10Z'),
      lastUsedAt: new Date('2027-01-09T03:07:00Z'),
    },
  ],
  csrfToken: 'csrf-token-value',
  notice: null,
};

describe('the account page', () => {
  it('escapes every name it shows, in text and in the Revoke button’s label', () => {
    const out = accountPage(view);
    assert.ok(!out.includes('<img src=x'), 'no markup from an application name');
    assert.match(out, /<h3 id="application-0f8b6c1e-0000-4000-8000-000000000000">&lt;img src=x onerror=alert\(1\)&gt;<\/h3>/);
    assert.match(out, /aria-label="Revoke access of &lt;img src=x onerror=alert\(1\)&gt; to Docs &amp; &quot;Co&quot;">Revoke<\/button>/);
    assert.match(out, /Signed in as <strong>Ada &lt;Lovelace&gt;<\/strong> \(<strong>ada&quot;l<\/strong> on GitHub\)/);
  });

  it('puts the session’s CSRF token in both forms, and posts Revoke to the grant’s own path', () => {
    const out = accountPage(view);
    assert.equal(out.match(/name="csrf_token" value="csrf-token-value"/g)?.length, 2);
    assert.match(out, /<form method="post" action="\/account\/sign-out">/);
    assert.match(out, /<form method="post" action="\/account\/grants\/0f8b6c1e-0000-4000-8000-000000000000\/revoke">/);
  });

  it('shows each scope’s description with its code beside it, escaped, and the code alone where there is none', () => {
    const application = { ...view.applications[0]!, scopeDescriptions: { 'docs:write': 'Change <b>your</b> "docs"' } };
    const out = accountPage({ ...view, applications: [application] });
    assert.match(
      out,
      /<ul class="scopes plain"><li><code>docs:read<\/code><\/li><li><span class="scope-description">Change &lt;b&gt;your&lt;\/b&gt; &quot;docs&quot;<\/span> <code class="scope">docs:write<\/code><\/li><\/ul>/,
    );
    assert.match(accountPage(view), /<dd><code>docs:read<\/code>, <code>docs:write<\/code><\/dd>/);
  });

  it('shows dates in UTC, readably and in <time datetime>', () => {
    const out = accountPage(view);
    assert.match(out, /<time datetime="2026-12-04T22:45:10.000Z">4 Dec 2026, 22:45 UTC<\/time>/);
    assert.match(out, /<time datetime="2027-01-09T03:07:00.000Z">9 Jan 2027, 03:07 UTC<\/time>/);
    assert.equal(formatUtc(new Date('2026-06-30T23:59:59Z')), '30 Jun 2026, 23:59 UTC');
  });

  it('says so when no application is connected, and lists several identities', () => {
    const out = accountPage({
      ...view,
      applications: [],
      identities: [
        { providerName: 'GitHub', handle: 'ada' },
        { providerName: 'Acme SSO', handle: 'ada@acme.example' },
      ],
    });
    assert.match(out, /<p>No applications are connected\.<\/p>/);
    assert.doesNotMatch(out, /Revoke/);
    assert.match(out, /<li><strong>ada<\/strong> on GitHub<\/li><li><strong>ada@acme\.example<\/strong> on Acme SSO<\/li>/);
  });

  it('shows a notice only from the fixed set', () => {
    assert.match(accountPage({ ...view, notice: 'revoked' }), /<p class="callout" role="status">Access revoked\./);
    assert.doesNotMatch(accountPage(view), /role="status"/);
  });
});

describe('the account sign-in page', () => {
  it('offers each provider, the first as the primary button', () => {
    const out = accountSignInPage({
      serverName: 'auth.example.com',
      providers: [
        { id: 'github', name: 'GitHub', href: '/account/login/github' },
        { id: 'oidc:acme', name: 'Acme <SSO>', href: '/account/login/oidc/acme' },
      ],
      notice: null,
    });
    assert.match(out, /<h1>Sign in to manage your account<\/h1>/);
    assert.match(out, /<a class="button primary" href="\/account\/login\/github">Continue with GitHub<\/a>/);
    assert.match(out, /<a class="button" href="\/account\/login\/oidc\/acme">Continue with Acme &lt;SSO&gt;<\/a>/);
  });

  it('says that no sign-in method is configured when there is none', () => {
    const out = accountSignInPage({ serverName: 'auth.example.com', providers: [], notice: 'signed-out' });
    assert.match(out, /role="alert"><strong>No sign-in method is configured<\/strong>/);
    assert.match(out, /You are signed out\./);
    assert.doesNotMatch(out, /Continue with/);
  });

  it('with development sign-in on, carries the banner and says where to sign in instead of "none configured"', () => {
    const out = accountSignInPage({ serverName: 'localhost:3000', providers: [], notice: null, devLogin: true });
    assert.match(out, /<div class="banner" role="alert"><strong>Development sign-in is on\.<\/strong>/);
    assert.match(out, /Development sign-in is offered on the sign-in page an application sends you to/);
    assert.doesNotMatch(out, /No sign-in method is configured/);
    assert.match(accountPage({ ...view, devLogin: true }), /<div class="banner" role="alert">/);
    assert.doesNotMatch(accountPage(view), /class="banner"/);
  });
});
