import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { SignedInOperator } from './console-layout.js';
import { identityLabel, USER_NOTICES, userPage, usersPage, type UserDetailView, type UserSearchView } from './console-users-views.js';

const admin: SignedInOperator = { userId: 'op-1', name: 'Ada', role: 'admin', csrfToken: 'csrf-token-value', serverName: 'auth.example.com', devLogin: false };
const viewer: SignedInOperator = { ...admin, role: 'viewer' };
const USER_ID = '11111111-1111-4111-8111-111111111111';
const GRANT_ID = '22222222-2222-4222-8222-222222222222';

const search: UserSearchView = {
  q: 'al<ice',
  provider: 'github',
  providers: ['dev', 'github', 'oidc:corp'],
  users: [
    {
      id: USER_ID,
      name: 'Alice <A>',
      identities: [
        { provider: 'github', subject: '42', login: 'alice', email: 'alice@example.com', name: 'Alice' },
        { provider: 'oidc:corp', subject: 'sub-9', login: null, email: 'alice@corp.example', name: null },
      ],
      disabled: true,
      grants: 3,
      role: 'viewer',
    },
  ],
  limit: 100,
};

const detail: UserDetailView = {
  id: USER_ID,
  name: 'Alice <A>',
  createdAt: new Date('2026-11-01T10:00:00Z'),
  disabledAt: null,
  lastSignIn: new Date('2026-12-01T09:30:00Z'),
  role: null,
  identities: search.users[0]!.identities,
  grants: [
    {
      grantId: GRANT_ID,
      clientName: 'Editor <X>',
      clientId: 'client-1',
      resourceName: 'Projects',
      resourceUrl: 'https://projects.example.com/mcp',
      scopes: ['projects:read', 'projects:write'],
      grantedAt: new Date('2026-11-02T10:00:00Z'),
      lastUsedAt: new Date('2026-12-04T08:00:00Z'),
      refreshable: false,
    },
  ],
  self: false,
};

describe('the console users page', () => {
  it('has a labelled GET search with the term and the provider kept, and marks the section', () => {
    const out = usersPage(admin, search);
    assert.match(out, /<form class="search" method="get" action="\/console\/users" role="search" aria-label="Users">/);
    assert.match(out, /<label for="users-q">Login, email or name<\/label>/);
    assert.match(out, /<input type="search" id="users-q" name="q" value="al&lt;ice"/);
    assert.match(out, /<label for="users-provider">Provider<\/label>/);
    assert.match(out, /<option value="">All providers<\/option>/);
    assert.match(out, /<option value="github" selected>github<\/option>/);
    assert.match(out, /<option value="oidc:corp">oidc:corp<\/option>/);
    assert.match(out, /<a href="\/console\/users" aria-current="page">Users<\/a>/);
  });

  it('lists each user with identities, status, grants and role, escaped, in a labelled scrolling region', () => {
    const out = usersPage(viewer, search);
    assert.match(out, /<div class="table-scroll" role="region" aria-labelledby="users-results" tabindex="0">/);
    assert.match(out, new RegExp(`<a href="/console/users/${USER_ID}">Alice &lt;A&gt;</a>`));
    assert.match(out, /<code>github:alice<\/code>/);
    assert.match(out, /<code>oidc:corp:alice@corp\.example<\/code>/, 'no login: the email');
    assert.match(out, /<span class="status-disabled">disabled<\/span>/);
    assert.match(out, /<td>3<\/td>/);
    assert.match(out, /<td>viewer<\/td>/);
    assert.match(out, /1 user, newest first\./);
  });

  it('says when the results reached the cap, and when nothing matched', () => {
    assert.match(usersPage(admin, { ...search, limit: 1 }), /Showing the first 1 users, newest first; there may be more: narrow the search\./);
    const none = usersPage(admin, { ...search, users: [] });
    assert.match(none, /No user matches\./);
    assert.doesNotMatch(none, /<table>/);
    assert.match(usersPage(admin, { ...search, q: '', provider: '', users: [] }), /Nobody has signed in yet\./);
  });

  it('keeps a chosen provider that no identity has (yet) in the select', () => {
    assert.match(usersPage(admin, { ...search, provider: 'oidc:gone' }), /<option value="oidc:gone" selected>oidc:gone<\/option>/);
  });
});

describe('the console user page', () => {
  it('shows identities, status, role, last sign-in and each grant', () => {
    const out = userPage(viewer, detail, null);
    assert.match(out, /<h1>User Alice &lt;A&gt;<\/h1>/);
    assert.match(out, new RegExp(`<dt>User id</dt><dd><code>${USER_ID}</code></dd>`));
    assert.match(out, /<dt>Status<\/dt><dd>enabled<\/dd>/);
    assert.match(out, /<dt>Console role<\/dt><dd>none<\/dd>/);
    assert.match(out, /<dt>Last sign-in<\/dt><dd><time datetime="2026-12-01T09:30:00.000Z">1 Dec 2026, 09:30 UTC<\/time><\/dd>/);
    assert.match(out, /<code>github:alice<\/code>/);
    assert.match(out, /<div class="table-scroll" role="region" aria-labelledby="grants-title" tabindex="0">/);
    assert.match(out, /Editor &lt;X&gt;/);
    assert.match(out, /<code>projects:write<\/code>/);
    assert.match(out, /refresh token expired/);
    assert.match(userPage(viewer, { ...detail, lastSignIn: null }, null), /<dt>Last sign-in<\/dt><dd>not in the audit log<\/dd>/);
  });

  it('gives a viewer no form at all', () => {
    const out = userPage(viewer, detail, null);
    assert.doesNotMatch(out, /\/console\/users\/[^"]*\/(revoke|revoke-all|disable|enable)"/);
    assert.doesNotMatch(out, /Revoke all grants|Disable user|Enable user/);
    assert.doesNotMatch(userPage(viewer, { ...detail, disabledAt: new Date() }, null), /Enable user/);
  });

  it('gives an admin a CSRF form per grant, revoke-all and disable, each button named', () => {
    const out = userPage(admin, detail, null);
    assert.match(
      out,
      new RegExp(`<form method="post" action="/console/users/${USER_ID}/grants/${GRANT_ID}/revoke">\\s*<input type="hidden" name="csrf_token" value="csrf-token-value">`),
    );
    assert.match(out, /<button type="submit">Revoke<span class="visually-hidden"> the grant of Editor &lt;X&gt; to Projects<\/span><\/button>/);
    assert.match(out, new RegExp(`action="/console/users/${USER_ID}/grants/revoke-all"`));
    assert.match(out, new RegExp(`action="/console/users/${USER_ID}/disable"`));
    assert.doesNotMatch(out, /Enable user/);
    assert.doesNotMatch(userPage(admin, { ...detail, grants: [] }, null), /Revoke all grants/, 'nothing to revoke');
  });

  it('offers enable for a disabled user, and no disable on the operator’s own page', () => {
    const disabled = userPage(admin, { ...detail, disabledAt: new Date('2026-12-02T00:00:00Z') }, null);
    assert.match(disabled, new RegExp(`action="/console/users/${USER_ID}/enable"`));
    assert.match(disabled, /<span class="status-disabled">disabled<\/span> since 2 Dec 2026, 00:00 UTC/);
    assert.doesNotMatch(disabled, /\/disable"/);
    const self = userPage(admin, { ...detail, self: true }, null);
    assert.doesNotMatch(self, /\/disable"/);
    assert.match(self, /You cannot disable yourself/);
  });

  it('shows only a notice of its fixed set', () => {
    assert.match(userPage(admin, detail, USER_NOTICES.revoked), /<p class="callout" role="status">Grant revoked:/);
  });
});

describe('identityLabel', () => {
  it('is provider:login, else the email, else the subject', () => {
    assert.equal(identityLabel({ provider: 'dev', subject: 'bob', login: 'bob', email: null, name: null }), 'dev:bob');
    assert.equal(identityLabel({ provider: 'oidc:x', subject: 's', login: null, email: 'e@x', name: null }), 'oidc:x:e@x');
    assert.equal(identityLabel({ provider: 'external', subject: 'r:u-7', login: null, email: null, name: null }), 'external:r:u-7');
  });
});
