import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { SignedInOperator } from './console-layout.js';
import { clientHref, clientPage, clientsPage, shortClientId, type ClientDetailsView, type ClientsListView } from './console-clients-views.js';
import type { ClientDetails, ClientListRow } from './console-clients.repository.js';
import { filterOf } from './console-clients.controller.js';

const now = new Date('2026-12-05T03:00:00Z');
const admin: SignedInOperator = { userId: 'u1', name: 'Ada', role: 'admin', csrfToken: 'csrf-token-value', serverName: 'auth.example.com', devLogin: false };
const viewer: SignedInOperator = { ...admin, role: 'viewer' };
const CIMD_ID = 'https://app.example.com/oauth/client-metadata.json?v=1&x=<y>';

const rows: ClientListRow[] = [
  { id: '0b6f7c1e-1111-4222-8333-444455556666', kind: 'dynamic', name: 'Claude <Desktop>', createdAt: new Date('2026-11-01T00:00:00Z'), lastUsedAt: new Date('2026-12-05T01:00:00Z'), liveGrants: 2 },
  { id: CIMD_ID, kind: 'metadata_document', name: null, createdAt: new Date('2026-10-01T00:00:00Z'), lastUsedAt: null, liveGrants: 0 },
];
const list: ClientsListView = { filter: { kind: null, activity: 'all', after: null }, page: { rows, total: 2, next: null }, now };

const cimd: ClientDetails = {
  id: CIMD_ID,
  kind: 'metadata_document',
  metadata: {
    client_name: 'Editor <b>',
    redirect_uris: ['http://127.0.0.1:4000/callback', 'https://app.example.com/cb?a=1&b=2'],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    application_type: 'native',
  },
  createdAt: new Date('2026-10-01T00:00:00Z'),
  updatedAt: new Date('2026-12-04T10:00:00Z'),
  lastUsedAt: new Date('2026-12-02T03:00:00Z'),
  metadataExpiresAt: new Date('2026-12-05T10:00:00Z'),
  liveGrants: 1,
};
const details: ClientDetailsView = {
  client: cimd,
  grants: [
    {
      id: 'g1',
      userId: 'user-1',
      userName: 'Grace',
      identity: 'github:grace',
      resourceName: 'Projects',
      resource: 'https://projects.example.com/mcp',
      scopes: ['projects:read', 'projects:write'],
      createdAt: new Date('2026-12-01T12:00:00Z'),
    },
  ],
  now,
};

describe('the console clients list', () => {
  it('offers labelled kind and activity filters that keep their selection', () => {
    const out = clientsPage(admin, { ...list, filter: { kind: 'static', activity: 'idle', after: null } }, null);
    assert.match(out, /<form class="filters" method="get" action="\/console\/clients">/);
    assert.match(out, /<label for="kind">Kind<\/label>\s*<select id="kind" name="kind">/);
    assert.match(out, /<label for="activity">Activity<\/label>\s*<select id="activity" name="activity">/);
    assert.match(out, /<option value="static" selected>Pre-registered<\/option>/);
    assert.match(out, /<option value="metadata_document">Metadata document<\/option>/);
    assert.match(out, /<option value="idle" selected>Idle for more than 30 days<\/option>/);
    assert.match(out, /<option value="never">Never used<\/option>/);
    assert.match(out, /<a href="\/console\/clients" aria-current="page">Clients<\/a>/);
  });

  it('shows each client with its name linked, a short id with the full one in the title, kind, last use and live grants', () => {
    const out = clientsPage(admin, list, null);
    assert.match(out, /<a href="\/console\/clients\/0b6f7c1e-1111-4222-8333-444455556666">Claude &lt;Desktop&gt;<\/a>/);
    assert.match(out, /<code title="0b6f7c1e-1111-4222-8333-444455556666">0b6f7c1e…<\/code>/);
    assert.match(out, /<td>Dynamic<\/td>/);
    assert.match(out, /title="5 Dec 2026, 01:00 UTC">2 hours ago<\/time>/);
    assert.match(out, /<td class="number">2<\/td>/);
    assert.match(out, /<a href="\/console\/clients\/https%3A%2F%2Fapp\.example\.com%2Foauth%2Fclient-metadata\.json%3Fv%3D1%26x%3D%3Cy%3E">Unnamed client<\/a>/);
    assert.match(out, /<td>never<\/td>/);
    assert.match(out, /Showing 2 of 2 clients, by client id\./);
  });

  it('puts the table in a labelled, focusable scrolling region for narrow screens', () => {
    assert.match(clientsPage(admin, list, null), /<div class="table-scroll" role="region" aria-labelledby="clients-summary" tabindex="0"><table>/);
  });

  it('says when nothing matches, and caps the count it shows', () => {
    const empty = clientsPage(admin, { ...list, filter: { kind: 'dynamic', activity: 'never', after: null }, page: { rows: [], total: 0, next: null } }, null);
    assert.match(empty, /No client matches\./);
    assert.doesNotMatch(empty, /<table>/);
    const many = clientsPage(admin, { ...list, page: { rows, total: 10_000, next: CIMD_ID } }, null);
    assert.match(many, /Showing 2 of more than 10,000 clients/);
  });

  it('links the next page with the filter kept, and the first page once past it', () => {
    const first = clientsPage(admin, { ...list, filter: { kind: 'dynamic', activity: 'day', after: null }, page: { rows, total: 300, next: 'abc' } }, null);
    assert.match(first, /<a href="\/console\/clients\?kind=dynamic&amp;activity=day&amp;after=abc">Next page<\/a>/);
    assert.doesNotMatch(first, /First page/);
    const later = clientsPage(admin, { ...list, filter: { kind: null, activity: 'all', after: 'abc' }, page: { rows, total: 300, next: null } }, null);
    assert.match(later, /<a href="\/console\/clients">First page<\/a>/);
    assert.doesNotMatch(later, /Next page/);
  });

  it('shows the deletion notice it is given', () => {
    assert.match(clientsPage(admin, list, 'Client deleted.'), /<p class="callout" role="status">Client deleted\.<\/p>/);
  });
});

describe('the console client details', () => {
  it('shows the registration, the metadata document with its times, and the redirect URIs, escaped', () => {
    const out = clientPage(viewer, details, null);
    assert.match(out, /<h1>Editor &lt;b&gt;<\/h1>/);
    assert.match(out, /<dt>Client id<\/dt><dd><code>https:\/\/app\.example\.com\/oauth\/client-metadata\.json\?v=1&amp;x=&lt;y&gt;<\/code><\/dd>/);
    assert.match(out, /<dt>Kind<\/dt><dd>Metadata document<\/dd>/);
    assert.match(out, /<dt>Token endpoint authentication<\/dt><dd><code>none<\/code><\/dd>/);
    assert.match(out, /<dt>Grant types<\/dt><dd><code>authorization_code<\/code>, <code>refresh_token<\/code><\/dd>/);
    assert.match(out, /<dt>Document fetched<\/dt><dd><time datetime="2026-12-04T10:00:00.000Z">4 Dec 2026, 10:00 UTC<\/time><\/dd>/);
    assert.match(out, /<dt>Document used until<\/dt><dd><time datetime="2026-12-05T10:00:00.000Z">/);
    assert.match(out, /<dt>Last used<\/dt><dd><time [^>]*>3 days ago<\/time><\/dd>/);
    assert.match(out, /<li><code>http:\/\/127\.0\.0\.1:4000\/callback<\/code><\/li>/);
    assert.match(out, /<li><code>https:\/\/app\.example\.com\/cb\?a=1&amp;b=2<\/code><\/li>/);
  });

  it('lists the live grants: who, for which resource server, which scopes, when', () => {
    const out = clientPage(viewer, details, null);
    assert.match(out, /<h2 id="grants-title">Live grants \(1\)<\/h2>/);
    assert.match(out, /role="region" aria-labelledby="grants-title" tabindex="0"/);
    assert.match(out, /<td>Grace<br><span class="muted">github:grace<\/span><\/td>/);
    assert.match(out, /<td>Projects<br><code class="scope">https:\/\/projects\.example\.com\/mcp<\/code><\/td>/);
    assert.match(out, /<td><code>projects:read<\/code> <code>projects:write<\/code><\/td>/);
  });

  it('gives a viewer no forms', () => {
    const out = clientPage(viewer, details, null);
    assert.doesNotMatch(out, /\/delete"/);
    assert.doesNotMatch(out, /revoke-grants/);
    assert.doesNotMatch(out, /name="confirm"/);
  });

  it('gives an admin delete and revoke forms, each with the CSRF token and a required confirmation', () => {
    const out = clientPage(admin, details, null);
    const href = clientHref(CIMD_ID);
    for (const action of ['delete', 'revoke-grants']) {
      const form = new RegExp(`<form class="change" method="post" action="${href.replace(/[.?]/g, '\\$&')}/${action}">\\s*<input type="hidden" name="csrf_token" value="csrf-token-value">`);
      assert.match(out, form, action);
    }
    assert.equal(out.match(/<input type="checkbox" name="confirm" value="yes" required>/g)?.length, 2);
    assert.match(out, /Its URL can come back/);
  });

  it('offers no revocation when the client has no live grant', () => {
    const out = clientPage(admin, { ...details, client: { ...cimd, liveGrants: 0 }, grants: [] }, null);
    assert.doesNotMatch(out, /revoke-grants/);
    assert.match(out, /\/delete"/);
    assert.match(out, /<h2 id="grants-title">Live grants \(0\)<\/h2>\s*<p>None\.<\/p>/);
  });
});

describe('client ids in the console', () => {
  it('shortens UUIDs to their first group and long URLs to 32 characters', () => {
    assert.equal(shortClientId('0b6f7c1e-1111-4222-8333-444455556666'), '0b6f7c1e…');
    assert.equal(shortClientId('https://a.example.com/c.json'), 'a.example.com/c.json');
    assert.equal(shortClientId('https://app.example.com/oauth/client-metadata.json'), 'app.example.com/oauth/client-me…');
  });

  it('reads the list filter from the query, falling back to everything for values the form cannot send', () => {
    assert.deepEqual(filterOf({ kind: 'metadata_document', activity: 'never', after: 'x' }), { kind: 'metadata_document', activity: 'never', after: 'x' });
    assert.deepEqual(filterOf({ kind: 'toString', activity: 'sometimes', after: '' }), { kind: null, activity: 'all', after: null });
    assert.deepEqual(filterOf({ kind: ['dynamic'], activity: ['day'], after: 'a\u0000b' }), { kind: null, activity: 'all', after: null });
  });
});
