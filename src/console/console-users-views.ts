import { html, type SafeHtml } from '../common/html.js';
import { formatUtc } from '../account/account-views.js';
import type { OperatorRole } from './console-operator.entity.js';
import type { UserGrant } from './console-users.repository.js';
import { consolePage, csrfField, type SignedInOperator } from './console-layout.js';

/** What a user's page says after a change; a fixed set, so a link cannot put words on the page. */
export const USER_NOTICES = {
  revoked: 'Grant revoked: its refresh token and access tokens no longer work, and the client must ask the user again.',
  'already-revoked': 'That grant was already revoked; nothing changed.',
  'revoked-all': 'Every grant of this user revoked, and the consents behind them forgotten: each client must ask again.',
  'nothing-to-revoke': 'This user held no grant and no consent; nothing changed.',
  disabled: 'User disabled: they cannot sign in, and every grant they held is revoked.',
  enabled: 'User enabled: they can sign in again. What disabling revoked stays revoked.',
} as const;
export type UserNotice = keyof typeof USER_NOTICES;

/** One of a user's ways in. */
export interface UserIdentityView {
  provider: string;
  subject: string;
  login: string | null;
  email: string | null;
  name: string | null;
}

/** A user as a row of the search results. */
export interface UserRowView {
  id: string;
  name: string | null;
  identities: UserIdentityView[];
  disabled: boolean;
  /** Grants not revoked. */
  grants: number;
  role: OperatorRole | null;
}

export interface UserSearchView {
  /** The search as typed (empty: none). */
  q: string;
  /** The provider chosen (empty: all). */
  provider: string;
  /** The providers users have identities of, for the select. */
  providers: string[];
  users: UserRowView[];
  /** Most users one search shows: when as many came back, there may be more. */
  limit: number;
}

/** A grant as the user's page shows it: the client by the name it goes by, rather than its kind and metadata. */
export interface UserGrantView extends Omit<UserGrant, 'clientKind' | 'clientMetadata'> {
  clientName: string;
}

export interface UserDetailView {
  id: string;
  name: string | null;
  createdAt: Date;
  disabledAt: Date | null;
  /** From the audit log; null when it no longer remembers (or the user never signed in, e.g. a product's user). */
  lastSignIn: Date | null;
  role: OperatorRole | null;
  identities: UserIdentityView[];
  grants: UserGrantView[];
  /** The user is the operator looking: they may not disable themselves. */
  self: boolean;
}

const USERS_STYLES = `
  form.search { display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:flex-end; margin:0 0 1rem; }
  form.search .field { flex:1 1 12rem; min-width:0; }
  form.search label { margin-top:0; }
  form.search input[type=search] { width:100%; }
  select { font:inherit; padding:.5rem .6rem; border:1px solid var(--field-line); border-radius:8px; background:var(--card); color:var(--fg); max-width:100%; }
  select:focus-visible { outline:3px solid var(--accent); outline-offset:1px; }
  /* relative: the visually hidden text of its buttons is positioned inside it, not beyond the page. */
  .table-scroll { overflow-x:auto; max-width:100%; position:relative; }
  .table-scroll:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
  /* Narrower than this, columns would break words letter by letter: the region scrolls instead. */
  .table-scroll > table { min-width:34rem; }
  .table-scroll > table.grants { min-width:46rem; }
  ul.plain { list-style:none; padding:0; margin:0; }
  td li { overflow-wrap:anywhere; }
  .status-disabled { font-weight:600; }
  td form { margin:0; }
  td button { padding:.3rem .8rem; }
  .visually-hidden { position:absolute; width:1px; height:1px; padding:0; margin:-1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; border:0; }
  .changes { display:flex; flex-wrap:wrap; gap:.75rem; margin-top:1rem; }
  .changes form { margin:0; }
`;

/** The users section: a search by login, email, name or provider, and the users it finds. */
export function usersPage(operator: SignedInOperator, view: UserSearchView): string {
  const searched = view.q !== '' || view.provider !== '';
  const providers = view.provider !== '' && !view.providers.includes(view.provider) ? [...view.providers, view.provider] : view.providers;
  return consolePage(
    operator,
    'users',
    'Users',
    html`<form class="search" method="get" action="/console/users" role="search" aria-label="Users">
    <div class="field">
      <label for="users-q">Login, email or name</label>
      <input type="search" id="users-q" name="q" value="${view.q}" maxlength="320" autocomplete="off" aria-describedby="users-q-hint">
      <p class="muted small" id="users-q-hint">Matches the start of a login, email address or name, in any case; or a user id.</p>
    </div>
    <div>
      <label for="users-provider">Provider</label>
      <select id="users-provider" name="provider">
        <option value=""${view.provider === '' ? html` selected` : ''}>All providers</option>
        ${providers.map((provider) => html`<option value="${provider}"${provider === view.provider ? html` selected` : ''}>${provider}</option>`)}
      </select>
    </div>
    <div><button type="submit" class="primary">Search</button></div>
  </form>
  <section aria-labelledby="users-results">
    <h2 id="users-results">${searched ? 'Users found' : 'Newest users'}</h2>
    ${view.users.length === 0
      ? html`<p>${searched ? 'No user matches.' : 'Nobody has signed in yet.'}</p>`
      : html`<p class="muted small">${view.users.length >= view.limit
          ? `Showing the first ${view.limit} users, newest first; there may be more: narrow the search.`
          : `${view.users.length} ${view.users.length === 1 ? 'user' : 'users'}, newest first.`}</p>
    <div class="table-scroll" role="region" aria-labelledby="users-results" tabindex="0">
      <table>
        <thead><tr><th scope="col">Name</th><th scope="col">Identities</th><th scope="col">Status</th><th scope="col">Grants</th><th scope="col">Console role</th></tr></thead>
        <tbody>${view.users.map(userRow)}</tbody>
      </table>
    </div>`}
  </section>`,
    { styles: USERS_STYLES },
  );
}

/** One user: identities, status, role, grants, and (for an admin) revoking and disabling. */
export function userPage(operator: SignedInOperator, view: UserDetailView, notice: string | null): string {
  const admin = operator.role === 'admin';
  const base = `/console/users/${view.id}`;
  return consolePage(
    operator,
    'users',
    `User ${nameOf(view)}`,
    html`<p><a href="/console/users">All users</a></p>
  <dl class="details">
    <dt>User id</dt><dd><code>${view.id}</code></dd>
    <dt>Status</dt><dd>${status(view.disabledAt !== null)}${view.disabledAt ? ` since ${formatUtc(view.disabledAt)}` : ''}</dd>
    <dt>Console role</dt><dd>${view.role ?? 'none'}</dd>
    <dt>Created</dt><dd>${timeOf(view.createdAt)}</dd>
    <dt>Last sign-in</dt><dd>${view.lastSignIn ? timeOf(view.lastSignIn) : 'not in the audit log'}</dd>
  </dl>
  <section aria-labelledby="identities-title">
    <h2 id="identities-title">Identities</h2>
    ${view.identities.length === 0
      ? html`<p>None.</p>`
      : html`<ul class="plain">${view.identities.map(
          (identity) => html`<li><code>${identityLabel(identity)}</code>${identity.name && identity.name !== identity.login ? html` <span class="muted">(${identity.name})</span>` : ''}${identity.email && identity.login ? html` <span class="muted">${identity.email}</span>` : ''}</li>`,
        )}</ul>`}
  </section>
  <section aria-labelledby="grants-title">
    <h2 id="grants-title">Grants</h2>
    ${view.grants.length === 0
      ? html`<p>No grant: no client holds tokens for this user.</p>`
      : html`<div class="table-scroll" role="region" aria-labelledby="grants-title" tabindex="0">
      <table class="grants">
        <thead><tr><th scope="col">Client</th><th scope="col">Resource</th><th scope="col">Scopes</th><th scope="col">Granted</th><th scope="col">Last used</th>${admin ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : ''}</tr></thead>
        <tbody>${view.grants.map((grant) => grantRow(operator, base, grant))}</tbody>
      </table>
    </div>`}
    ${admin && view.grants.length > 0
      ? html`<form method="post" action="${base}/grants/revoke-all" class="changes">
      ${csrfField(operator)}
      <button type="submit">Revoke all grants</button>
      <p class="muted small">Revokes every grant above with its tokens and forgets the consents behind them.</p>
    </form>`
      : ''}
  </section>
  ${admin ? accessSection(operator, base, view) : ''}`,
    { notice, styles: USERS_STYLES },
  );
}

function accessSection(operator: SignedInOperator, base: string, view: UserDetailView): SafeHtml {
  if (view.disabledAt !== null) {
    return html`<section aria-labelledby="access-title">
    <h2 id="access-title">Access</h2>
    <form method="post" action="${base}/enable" class="changes">
      ${csrfField(operator)}
      <button type="submit">Enable user</button>
      <p class="muted small">They can sign in again; what disabling revoked stays revoked.</p>
    </form>
  </section>`;
  }
  if (view.self) {
    return html`<section aria-labelledby="access-title">
    <h2 id="access-title">Access</h2>
    <p class="muted">You cannot disable yourself: you would lock yourself out of the console. Another admin can.</p>
  </section>`;
  }
  return html`<section aria-labelledby="access-title">
    <h2 id="access-title">Access</h2>
    <form method="post" action="${base}/disable" class="changes">
      ${csrfField(operator)}
      <button type="submit">Disable user</button>
      <p class="muted small">Refuses their sign-in, tokens and refreshes, revokes every grant and forgets every consent.</p>
    </form>
  </section>`;
}

function userRow(user: UserRowView): SafeHtml {
  return html`<tr>
    <td><a href="/console/users/${user.id}">${nameOf(user)}</a></td>
    <td><ul class="plain">${user.identities.map((identity) => html`<li><code>${identityLabel(identity)}</code></li>`)}</ul></td>
    <td>${status(user.disabled)}</td>
    <td>${user.grants}</td>
    <td>${user.role ?? html`<span class="muted">none</span>`}</td>
  </tr>`;
}

function grantRow(operator: SignedInOperator, base: string, grant: UserGrantView): SafeHtml {
  return html`<tr>
    <td>${grant.clientName}<br><code class="small">${grant.clientId}</code></td>
    <td>${grant.resourceName}<br><code class="small">${grant.resourceUrl}</code></td>
    <td>${grant.scopes.length ? html`<ul class="plain">${grant.scopes.map((scope) => html`<li><code>${scope}</code></li>`)}</ul>` : html`<span class="muted">none</span>`}</td>
    <td>${timeOf(grant.grantedAt)}</td>
    <td>${timeOf(grant.lastUsedAt)}${grant.refreshable ? '' : html`<br><span class="muted small">refresh token expired</span>`}</td>
    ${operator.role === 'admin'
      ? html`<td><form method="post" action="${base}/grants/${grant.grantId}/revoke">
      ${csrfField(operator)}
      <button type="submit">Revoke<span class="visually-hidden"> the grant of ${grant.clientName} to ${grant.resourceName}</span></button>
    </form></td>`
      : ''}
  </tr>`;
}

/** `provider:login`, else the email, else the provider's subject (a product's user has only that). */
export function identityLabel(identity: UserIdentityView): string {
  return `${identity.provider}:${identity.login ?? identity.email ?? identity.subject}`;
}

function nameOf(user: { id: string; name: string | null; identities: UserIdentityView[] }): string {
  return user.name ?? user.identities.map((identity) => identity.login ?? identity.email).find(Boolean) ?? user.id;
}

function status(disabled: boolean): SafeHtml {
  return disabled ? html`<span class="status-disabled">disabled</span>` : html`enabled`;
}

function timeOf(date: Date): SafeHtml {
  return html`<time datetime="${date.toISOString()}">${formatUtc(date)}</time>`;
}
