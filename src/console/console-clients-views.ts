import { html, type SafeHtml } from '../common/html.js';
import { formatUtc } from '../account/account-views.js';
import type { ClientKind } from '../registration/client.entity.js';
import { consolePage, csrfField, type SignedInOperator } from './console-layout.js';
import { describeAge } from './console-views.js';
import {
  CLIENT_ACTIVITIES,
  CLIENT_COUNT_CAP,
  CLIENT_GRANTS_SHOWN,
  type ClientActivity,
  type ClientDetails,
  type ClientGrantRow,
  type ClientListFilter,
  type ClientListPage,
} from './console-clients.repository.js';

export const CLIENTS_NOTICES = {
  deleted: 'Client deleted, with its grants and consents; its refresh tokens no longer work.',
} as const;

export const CLIENT_NOTICES = {
  'grants-revoked': 'Every live grant of this client is revoked; its users will be asked to consent again.',
  'nothing-revoked': 'This client had no live grant to revoke.',
  'not-confirmed': 'Nothing was changed: tick the box that confirms the change, then press the button again.',
} as const;

/** How the console names the kinds; `static` clients are the pre-registered ones. */
export const KIND_LABELS: Record<ClientKind, string> = {
  dynamic: 'Dynamic',
  metadata_document: 'Metadata document',
  static: 'Pre-registered',
};

export const ACTIVITY_LABELS: Record<ClientActivity, string> = {
  all: 'Any activity',
  day: 'Used in the last 24 hours',
  month: 'Used in the last 30 days',
  idle: 'Idle for more than 30 days',
  never: 'Never used',
};

const KINDS = Object.keys(KIND_LABELS) as ClientKind[];

export const CLIENTS_STYLES = `
  form.filters { display:flex; flex-wrap:wrap; align-items:flex-end; gap:.5rem 1rem; margin:0 0 1rem; }
  form.filters div { display:flex; flex-direction:column; }
  form.filters label { margin:0 0 .25rem; }
  select { font:inherit; padding:.5rem .6rem; border:1px solid var(--field-line); border-radius:8px; background:var(--card); color:var(--fg); max-width:100%; }
  select:focus-visible, input[type=checkbox]:focus-visible { outline:3px solid var(--accent); outline-offset:1px; }
  .table-scroll { overflow-x:auto; max-width:100%; }
  .table-scroll:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
  .table-scroll table { min-width:36rem; }
  td.number, th.number { text-align:right; }
  nav.pages { display:flex; flex-wrap:wrap; gap:1rem; margin-top:.75rem; }
  ul.uris { padding-left:1.2rem; margin:.25rem 0; }
  ul.uris code { overflow-wrap:anywhere; word-break:break-all; }
  dl.details.client { color:var(--fg); font-size:.9rem; }
  dl.details.client dt { color:var(--muted); }
  form.change { border-top:1px solid var(--line); margin-top:1.25rem; padding-top:.5rem; }
  label.confirm { display:flex; gap:.5rem; align-items:flex-start; font-weight:normal; }
  label.confirm input { margin-top:.3rem; flex:none; }
`;

export interface ClientsListView {
  filter: ClientListFilter;
  page: ClientListPage;
  now: Date;
}

/** The clients, filtered by kind and activity, a page at a time in client id order. */
export function clientsPage(operator: SignedInOperator, view: ClientsListView, notice: string | null): string {
  const { filter, page } = view;
  return consolePage(
    operator,
    'clients',
    'Clients',
    html`<form class="filters" method="get" action="/console/clients">
    <div><label for="kind">Kind</label>
      <select id="kind" name="kind">
        <option value=""${filter.kind === null ? html` selected` : ''}>All kinds</option>
        ${KINDS.map((kind) => html`<option value="${kind}"${filter.kind === kind ? html` selected` : ''}>${KIND_LABELS[kind]}</option>`)}
      </select></div>
    <div><label for="activity">Activity</label>
      <select id="activity" name="activity">
        ${CLIENT_ACTIVITIES.map((activity) => html`<option value="${activity}"${filter.activity === activity ? html` selected` : ''}>${ACTIVITY_LABELS[activity]}</option>`)}
      </select></div>
    <div><button type="submit">Show</button></div>
  </form>
  <p id="clients-summary" class="muted">${summary(page, filter)}</p>
  ${page.rows.length
    ? html`<div class="table-scroll" role="region" aria-labelledby="clients-summary" tabindex="0"><table>
    <thead><tr><th scope="col">Name</th><th scope="col">Client id</th><th scope="col">Kind</th><th scope="col">Last used</th><th scope="col" class="number">Live grants</th></tr></thead>
    <tbody>${page.rows.map((row) => html`<tr>
      <td><a href="${clientHref(row.id)}">${row.name ?? 'Unnamed client'}</a></td>
      <td><code title="${row.id}">${shortClientId(row.id)}</code></td>
      <td>${KIND_LABELS[row.kind]}</td>
      <td>${lastUse(row.lastUsedAt, view.now)}</td>
      <td class="number">${row.liveGrants}</td>
    </tr>`)}</tbody>
  </table></div>`
    : ''}
  ${pages(filter, page)}`,
    { notice, styles: CLIENTS_STYLES },
  );
}

export interface ClientDetailsView {
  client: ClientDetails;
  grants: ClientGrantRow[];
  now: Date;
}

/** One client: its registration, its use, its live grants; for an admin, revoking them all and deleting it. */
export function clientPage(operator: SignedInOperator, view: ClientDetailsView, notice: string | null): string {
  const { client, grants } = view;
  const metadata = client.metadata;
  const href = clientHref(client.id);
  return consolePage(
    operator,
    'clients',
    metadata.client_name ?? 'Unnamed client',
    html`<p><a href="/console/clients">All clients</a></p>
  <dl class="details client">
    <dt>Client id</dt><dd><code>${client.id}</code></dd>
    <dt>Kind</dt><dd>${KIND_LABELS[client.kind]}</dd>
    <dt>Created</dt><dd>${time(client.createdAt)}</dd>
    <dt>Last used</dt><dd>${lastUse(client.lastUsedAt, view.now)}</dd>
    <dt>Application type</dt><dd><code>${metadata.application_type}</code></dd>
    <dt>Token endpoint authentication</dt><dd><code>${metadata.token_endpoint_auth_method}</code></dd>
    <dt>Grant types</dt><dd>${metadata.grant_types.map((type, i) => html`${i ? ', ' : ''}<code>${type}</code>`)}</dd>
    ${metadata.scope ? html`<dt>Scope</dt><dd><code>${metadata.scope}</code></dd>` : ''}
    ${metadata.client_uri ? html`<dt>Home page</dt><dd>${metadata.client_uri}</dd>` : ''}
    ${metadata.software_id ? html`<dt>Software</dt><dd>${metadata.software_id}${metadata.software_version ? ` ${metadata.software_version}` : ''}</dd>` : ''}
    ${metadata.contacts?.length ? html`<dt>Contacts</dt><dd>${metadata.contacts.join(', ')}</dd>` : ''}
    ${client.kind === 'metadata_document'
      ? html`<dt>Metadata document</dt><dd><code>${client.id}</code></dd>
    <dt>Document fetched</dt><dd>${time(client.updatedAt)}</dd>
    <dt>Document used until</dt><dd>${client.metadataExpiresAt ? time(client.metadataExpiresAt) : 'unknown'}</dd>`
      : ''}
  </dl>
  <h2 id="redirect-uris">Redirect URIs</h2>
  <ul class="uris" aria-labelledby="redirect-uris">${metadata.redirect_uris.map((uri) => html`<li><code>${uri}</code></li>`)}</ul>
  <h2 id="grants-title">Live grants (${client.liveGrants})</h2>
  ${grants.length
    ? html`<div class="table-scroll" role="region" aria-labelledby="grants-title" tabindex="0"><table>
    <thead><tr><th scope="col">User</th><th scope="col">Resource server</th><th scope="col">Scopes</th><th scope="col">Granted</th></tr></thead>
    <tbody>${grants.map((grant) => html`<tr>
      <td>${grant.userName ?? grant.identity ?? 'Unnamed user'}${grant.userName && grant.identity ? html`<br><span class="muted">${grant.identity}</span>` : ''}</td>
      <td>${grant.resourceName}<br><code class="scope">${grant.resource}</code></td>
      <td>${grant.scopes.length ? grant.scopes.map((scope, i) => html`${i ? ' ' : ''}<code>${scope}</code>`) : html`<span class="muted">none</span>`}</td>
      <td>${time(grant.createdAt)}</td>
    </tr>`)}</tbody>
  </table></div>
  ${client.liveGrants > grants.length ? html`<p class="muted small">The newest ${CLIENT_GRANTS_SHOWN} are shown.</p>` : ''}`
    : html`<p>None.</p>`}
  ${operator.role === 'admin' ? adminForms(operator, client, href) : ''}`,
    { notice, styles: CLIENTS_STYLES },
  );
}

function adminForms(operator: SignedInOperator, client: ClientDetails, href: string): SafeHtml {
  const comesBack =
    client.kind === 'metadata_document'
      ? 'Its URL can come back: the next authorization request that names it fetches the document again.'
      : client.kind === 'dynamic'
        ? 'The software behind it may register again, as a new client.'
        : 'A pre-registered client can only come back by registering it again, with a new client id.';
  return html`${client.liveGrants
    ? html`<form class="change" method="post" action="${href}/revoke-grants">
    ${csrfField(operator)}
    <h2>Revoke all grants</h2>
    <p class="muted small">Revokes every live grant of this client: its refresh tokens stop working, introspection reports its access tokens inactive, and the consents behind them are forgotten. The client stays registered.</p>
    <label class="confirm"><input type="checkbox" name="confirm" value="yes" required> Revoke the ${client.liveGrants} live grant${client.liveGrants === 1 ? '' : 's'} of this client</label>
    <button type="submit">Revoke all grants</button>
  </form>`
    : ''}
  <form class="change" method="post" action="${href}/delete">
    ${csrfField(operator)}
    <h2>Delete this client</h2>
    <p class="muted small">Deletes the client with its grants and consents: its refresh tokens stop working at once, and introspection reports its access tokens inactive. ${comesBack}</p>
    <label class="confirm"><input type="checkbox" name="confirm" value="yes" required> Delete this client and everything issued to it</label>
    <button type="submit">Delete client</button>
  </form>`;
}

/** The detail page of a client; ids may be URLs (metadata-document clients), so the id is one encoded path segment. */
export function clientHref(clientId: string): string {
  return `/console/clients/${encodeURIComponent(clientId)}`;
}

/** A client id short enough for a table cell: a UUID's first group, a URL's host and path cut at 32 characters. */
export function shortClientId(clientId: string): string {
  const shown = clientId.replace(/^https:\/\//, '');
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(shown)) return `${shown.slice(0, 8)}…`;
  return shown.length > 32 ? `${shown.slice(0, 31)}…` : shown;
}

function summary(page: ClientListPage, filter: ClientListFilter): string {
  const filtered = filter.kind !== null || filter.activity !== 'all';
  const of = page.total >= CLIENT_COUNT_CAP ? `more than ${CLIENT_COUNT_CAP.toLocaleString('en')}` : String(page.total);
  if (page.rows.length === 0) return filter.after !== null ? 'No more clients.' : filtered ? 'No client matches.' : 'No clients yet.';
  return `Showing ${page.rows.length} of ${of} client${page.total === 1 ? '' : 's'}${filtered ? ' that match' : ''}, by client id.`;
}

function pages(filter: ClientListFilter, page: ClientListPage): SafeHtml {
  if (filter.after === null && page.next === null) return html``;
  const query = (after: string | null): string => {
    const search = new URLSearchParams();
    if (filter.kind) search.set('kind', filter.kind);
    if (filter.activity !== 'all') search.set('activity', filter.activity);
    if (after) search.set('after', after);
    const text = search.toString();
    return text ? `/console/clients?${text}` : '/console/clients';
  };
  return html`<nav class="pages" aria-label="Pages of clients">
    ${filter.after !== null ? html`<a href="${query(null)}">First page</a>` : ''}
    ${page.next !== null ? html`<a href="${query(page.next)}">Next page</a>` : ''}
  </nav>`;
}

function lastUse(lastUsedAt: Date | null, now: Date): SafeHtml {
  if (!lastUsedAt) return html`never`;
  return html`<time datetime="${lastUsedAt.toISOString()}" title="${formatUtc(lastUsedAt)}">${describeAge(now.getTime() - lastUsedAt.getTime())} ago</time>`;
}

function time(date: Date): SafeHtml {
  return html`<time datetime="${date.toISOString()}">${formatUtc(date)}</time>`;
}
