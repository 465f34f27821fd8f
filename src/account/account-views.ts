import { brandHeader, html, page, type SafeHtml } from '../common/html.js';
import { DEV_LOGIN_BANNER, sessionSignInChoices, describedScope, type SignInChoice } from '../authorization/views.js';

/** A grant on the account page, ready to show. */
export interface ConnectedApplicationView {
  grantId: string;
  name: string;
  /** Where the application is: its site's host, its metadata document's host, or where its redirects go. */
  host: string;
  resourceName: string;
  resourceUrl: string;
  scopes: string[];
  /** The resource's descriptions of its scopes; a scope without one shows its code. */
  scopeDescriptions: Readonly<Record<string, string>>;
  allowedAt: Date;
  lastUsedAt: Date;
}

/** One way the person signs in: `GitHub`, an OpenID Connect provider's name, and their handle there. */
export interface IdentityView {
  providerName: string;
  handle: string;
}

/** What a finished action says on the page it returns to; a fixed set, so a link cannot put words on the page. */
export const ACCOUNT_NOTICES = {
  revoked: 'Access revoked. The application can no longer use it, and must ask you again before it connects.',
  'already-revoked': 'That access had already been revoked.',
  'signed-out': 'You are signed out.',
} as const;
export type AccountNotice = keyof typeof ACCOUNT_NOTICES;

export interface AccountView {
  /** The server's host, shown where the consent page shows the resource server's name. */
  serverName: string;
  displayName: string;
  identities: IdentityView[];
  applications: ConnectedApplicationView[];
  csrfToken: string;
  notice: AccountNotice | null;
  /** DEV_LOGIN is on: the page carries DEV_LOGIN_BANNER. */
  devLogin?: boolean;
}

export function accountPage(view: AccountView): string {
  return page(
    'Your account',
    html`<div class="card">
  ${brandHeader({ name: view.serverName })}
  <h1>Your account</h1>
  ${notice(view.notice)}
  <p>Signed in as <strong>${view.displayName}</strong>${view.identities.length === 1 ? html` (${identityText(view.identities[0]!, view.displayName)})` : ''}.</p>
  ${view.identities.length > 1 ? identityList(view.identities) : ''}
  <form method="post" action="/account/sign-out">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <button type="submit">Sign out</button>
  </form>
  <section aria-labelledby="applications-title">
    <h2 id="applications-title">Connected applications</h2>
    ${view.applications.length
      ? html`<p class="muted small">Applications you allowed to act for you. “Last used” is when the application last obtained an access token with that permission.</p>
    <ul class="applications">${view.applications.map((application) => applicationItem(application, view.csrfToken))}</ul>`
      : html`<p>No applications are connected.</p>`}
  </section>
</div>`,
    { banner: view.devLogin ? DEV_LOGIN_BANNER : null },
  );
}

function identityList(identities: IdentityView[]): SafeHtml {
  return html`<p>You can sign in with:</p>
  <ul class="identities">${identities.map((identity) => html`<li>${identityText(identity, null)}</li>`)}</ul>`;
}

/** `octocat on GitHub`; just `GitHub` when the handle is the name already shown. */
function identityText(identity: IdentityView, shownName: string | null): SafeHtml {
  return identity.handle === shownName ? html`${identity.providerName}` : html`<strong>${identity.handle}</strong> on ${identity.providerName}`;
}

function notice(kind: AccountNotice | null): SafeHtml | string {
  return kind ? html`<p class="callout" role="status">${ACCOUNT_NOTICES[kind]}</p>` : '';
}

function applicationItem(application: ConnectedApplicationView, csrfToken: string): SafeHtml {
  const nameId = `application-${application.grantId}`;
  return html`<li class="application" aria-labelledby="${nameId}">
      <h3 id="${nameId}">${application.name}</h3>
      <p class="muted small">${application.host}</p>
      <dl class="details">
        <dt>Resource</dt><dd>${application.resourceName} <code>${application.resourceUrl}</code></dd>
        <dt>Scopes</dt><dd>${application.scopes.length ? scopeList(application) : 'none'}</dd>
        <dt>Allowed</dt><dd>${timeElement(application.allowedAt)}</dd>
        <dt>Last used</dt><dd>${timeElement(application.lastUsedAt)}</dd>
      </dl>
      <form method="post" action="/account/grants/${application.grantId}/revoke">
        <input type="hidden" name="csrf_token" value="${csrfToken}">
        <button type="submit" aria-label="Revoke access of ${application.name} to ${application.resourceName}">Revoke</button>
      </form>
    </li>`;
}

/** Codes alone read as a list (`a, b`); described scopes one per line, each with its code. */
function scopeList(application: ConnectedApplicationView): SafeHtml {
  const described = application.scopes.some((scope) => Object.hasOwn(application.scopeDescriptions, scope));
  if (!described) return html`${application.scopes.map((scope, i) => html`${i ? ', ' : ''}<code>${scope}</code>`)}`;
  return html`<ul class="scopes plain">${application.scopes.map((scope) => html`<li>${describedScope(scope, application.scopeDescriptions)}</li>`)}</ul>`;
}

export interface AccountSignInView {
  serverName: string;
  /** The providers the person can sign in with, in the order shown. */
  providers: SignInChoice[];
  notice: AccountNotice | null;
  /** DEV_LOGIN is on: the page carries DEV_LOGIN_BANNER and says where development sign-in is. */
  devLogin?: boolean;
}

export function accountSignInPage(view: AccountSignInView): string {
  return page(
    'Sign in to manage your account',
    html`<div class="card">
  ${brandHeader({ name: view.serverName })}
  <h1>Sign in to manage your account</h1>
  ${notice(view.notice)}
  <p>See which applications you allowed to act for you, and revoke their access.</p>
  ${sessionSignInChoices(view.providers, view.devLogin)}
</div>`,
    { banner: view.devLogin ? DEV_LOGIN_BANNER : null },
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `4 Dec 2026, 22:45 UTC`: one reading everywhere, whatever the person's locale; the machine-readable form beside it. */
export function formatUtc(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}, ${two(date.getUTCHours())}:${two(date.getUTCMinutes())} UTC`;
}

function timeElement(date: Date): SafeHtml {
  return html`<time datetime="${date.toISOString()}">${formatUtc(date)}</time>`;
}

