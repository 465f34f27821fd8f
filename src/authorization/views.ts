import { brandHeader, GATEHOUSE_BRAND, html, page, type SafeHtml } from '../common/html.js';

export interface ConsentView {
  clientName: string;
  clientUri: string | null;
  /** Set when the client is identified by a client metadata document URL rather than a registration. */
  metadataDocument?: { url: string; host: string } | null;
  /** Every redirect URI the client has goes to this device (loopback or a private-use scheme). */
  runsLocally?: boolean;
  redirectHost: string;
  resourceName: string;
  resourceUrl: string;
  logoUri: string | null;
  policyUri: string | null;
  tosUri: string | null;
  scopes: string[];
  /** What some of the scopes let the application do, in words (the resource's scope_descriptions). */
  scopeDescriptions?: Readonly<Record<string, string>>;
  /**
   * The scopes not yet allowed. None: everything was allowed before, and the page only asks the person to confirm
   * that they started this (a public client on this device, see AuthorizationService.resume).
   */
  newScopes: string[];
  formAction: string;
  csrfToken: string;
  /** Who is signed in (login or email, and the provider's name), with where to sign out; null when the product signed them in. */
  signedInAs?: { label: string; providerName: string; signOutAction: string } | null;
  /** What the application will also learn about the person (IDENTITY_CLAIM_WORDING of the resource's identity claims). */
  identityData?: string[];
  /** DEV_LOGIN is on: the page carries DEV_LOGIN_BANNER. */
  devLogin?: boolean;
}

/** On every page that concerns signing in while DEV_LOGIN is on: nobody should mistake this server for a real one. */
export const DEV_LOGIN_BANNER = html`<strong>Development sign-in is on.</strong> Anyone who can reach this server can sign in as anyone by typing a name. Use it only to try Gatehouse on your own computer.`;

/**
 * The sign-in buttons of a page outside any authorization (the account page, the console). Development sign-in is not
 * one of them: its form needs an interaction's CSRF token, so the page says where to find it instead.
 */
export function sessionSignInChoices(providers: SignInChoice[], devLogin = false): SafeHtml {
  return html`${providers.length
    ? html`<div class="actions stacked">${providers.map((provider, i) => html`<a class="button${i === 0 ? ' primary' : ''}" href="${provider.href}">Continue with ${provider.name}</a>`)}</div>`
    : devLogin
      ? ''
      : html`<p role="alert"><strong>No sign-in method is configured</strong> on this server. An administrator must configure an identity provider.</p>`}
  ${devLogin ? html`<p>Development sign-in is offered on the sign-in page an application sends you to: connect an MCP client, sign in there, then come back to this page in the same browser.</p>` : ''}`;
}

export function consentPage(view: ConsentView): string {
  const confirming = view.newScopes.length === 0;
  const title = confirming ? html`Continue to <strong>${view.clientName}</strong>?` : html`Allow <strong>${view.clientName}</strong> to use ${view.resourceName}?`;
  const scopeItems = view.scopes.map(
    (scope) => html`<li>${describedScope(scope, view.scopeDescriptions)}${view.newScopes.includes(scope) ? '' : html` <span class="muted">(already allowed)</span>`}</li>`,
  );
  const links: SafeHtml[] = [];
  if (view.policyUri) links.push(html`<a href="${view.policyUri}" rel="noopener noreferrer">Privacy policy</a>`);
  if (view.tosUri) links.push(html`<a href="${view.tosUri}" rel="noopener noreferrer">Terms of service</a>`);
  return page(
    confirming ? `Continue to ${view.clientName}?` : `Allow ${view.clientName} to use ${view.resourceName}?`,
    html`<div class="card">
  ${brandHeader({ name: view.resourceName, logoUri: view.logoUri })}
  <h1 id="consent-title">${title}</h1>
  ${view.signedInAs ? signedInAs(view.signedInAs) : ''}
  ${view.metadataDocument ? documentIdentity(view.metadataDocument) : ''}
  ${confirming ? alreadyAllowed(view) : ''}
  <section aria-labelledby="scopes-title">
    <h2 id="scopes-title">${view.clientName} is asking to</h2>
    <ul class="scopes">${scopeItems}</ul>
  </section>
  ${view.identityData?.length ? identityData(view.clientName, view.identityData) : ''}
  <p class="callout">After you ${confirming ? 'continue' : 'decide'}, you will be sent to <strong>${view.redirectHost}</strong>.</p>
  ${view.metadataDocument && view.runsLocally && !confirming ? localAppWarning(view.clientName, view.metadataDocument.host) : ''}
  <form method="post" action="${view.formAction}" aria-labelledby="consent-title">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <div class="actions">
      <button type="submit" name="decision" value="approve" class="primary">${confirming ? `Continue to ${view.clientName}` : 'Approve'}</button>
      <button type="submit" name="decision" value="deny">${confirming ? 'Cancel' : 'Deny'}</button>
    </div>
  </form>
  <p class="muted small">${confirming ? 'Continue' : 'Approve'} only if you trust ${view.clientName} and started this yourself.</p>
  <dl class="details">
    <dt>Resource</dt><dd><code>${view.resourceUrl}</code></dd>
    ${view.clientUri ? html`<dt>Application site</dt><dd><code>${view.clientUri}</code></dd>` : ''}
  </dl>
  ${links.length ? html`<footer class="muted small"><nav aria-label="Legal">${links.map((link, i) => html`${i ? ' · ' : ''}${link}`)}</nav></footer>` : ''}
  ${view.signedInAs ? html`<form id="sign-out" method="post" action="${view.signedInAs.signOutAction}"><input type="hidden" name="csrf_token" value="${view.csrfToken}"></form>` : ''}
</div>`,
    { banner: view.devLogin ? DEV_LOGIN_BANNER : null },
  );
}

/**
 * A scope in words with its code beside it, small, for those who know the codes; the code alone when the resource
 * does not describe it. Shared with the account page.
 */
export function describedScope(scope: string, descriptions: Readonly<Record<string, string>> | undefined): SafeHtml {
  const description = descriptions && Object.hasOwn(descriptions, scope) ? descriptions[scope] : undefined;
  return description ? html`<span class="scope-description">${description}</span> <code class="scope">${scope}</code>` : html`<code>${scope}</code>`;
}

/**
 * Who the consent is given as, and a way out for someone else's session left in this browser. The button submits
 * the sign-out form at the end of the page, so that the consent form stays the page's first.
 */
function signedInAs(who: NonNullable<ConsentView['signedInAs']>): SafeHtml {
  return html`<p class="signed-in muted small">Signed in as <strong>${who.label}</strong> (${who.providerName}) — <button type="submit" form="sign-out" class="link">not you?</button></p>`;
}

/** The identity claims the tokens will carry: the person should know the application learns them. */
function identityData(clientName: string, items: string[]): SafeHtml {
  return html`<section aria-labelledby="identity-title">
    <h2 id="identity-title">${clientName} will also receive</h2>
    <p>${items.map((item, i) => html`${i ? ', ' : ''}${item}`)}.</p>
  </section>`;
}

/** Sign-in refused: an administrator disabled the account. */
export function accountDisabledPage(): string {
  return page(
    'Account disabled',
    html`<div class="card">
  ${brandHeader(GATEHOUSE_BRAND)}
  <h1>Your account is disabled</h1>
  <p>An administrator of this server has disabled your account, so you cannot sign in or authorize applications. Ask the administrator if you think this is a mistake.</p>
</div>`,
  );
}

/** The name comes from the document, so anyone can claim any name: the URL's host is what identifies the client. */
function documentIdentity(document: { url: string; host: string }): SafeHtml {
  return html`<p>This application is identified by <strong>${document.host}</strong>, which publishes its description at <code>${document.url}</code>. The name above is what that description says; check the address you expected.</p>`;
}

/**
 * Every redirect goes to this device: any program on it could use this client's identity, so the person must
 * know they started the application themselves (draft-ietf-oauth-client-id-metadata-document, security
 * considerations on loopback redirect URIs).
 */
function localAppWarning(clientName: string, host: string): SafeHtml {
  return html`<p role="alert"><strong>This application runs on your computer.</strong> The authorization is handed to a program on this device, not to ${host}. Approve only if you started ${clientName} yourself just now.</p>`;
}

/**
 * Shown instead of asking again: the request may come from any program on this device that uses the client's id,
 * so the person confirms they started it (RFC 8252 §8.6).
 */
function alreadyAllowed(view: ConsentView): SafeHtml {
  return html`<p role="alert">You already allowed <strong>${view.clientName}</strong> to use ${view.resourceName}. It runs on your computer, where any program can ask in its name: continue only if you started ${view.clientName} yourself just now.</p>`;
}

/** A provider on the sign-in page: its display name and where its sign-in starts for this interaction. */
export interface SignInChoice {
  /** `github`, `oidc:<provider id>`, `dev`. */
  id: string;
  name: string;
  href: string;
  /** A form that posts a typed name to `href` (development sign-in), rather than a link to follow. */
  nameForm?: boolean;
}

export interface SignInView {
  clientName: string;
  /** The host of the client's metadata document URL, for a client identified that way. */
  clientHost?: string | null;
  resourceName: string;
  /** The resource server's logo, shown beside its name as on the consent page. */
  logoUri?: string | null;
  /** The providers this resource server lets people sign in with, in the order shown. */
  providers: SignInChoice[];
  /** The GitHub settings still unset, named when no provider can be offered. */
  githubMissing: string[];
  /** The interaction's CSRF token, for a choice that is a form (nameForm). */
  csrfToken?: string;
  /** DEV_LOGIN is on: the page carries DEV_LOGIN_BANNER. */
  devLogin?: boolean;
}

export function signInPage(view: SignInView): string {
  const links = view.providers.filter((provider) => !provider.nameForm);
  const forms = view.providers.filter((provider) => provider.nameForm);
  const action = view.providers.length
    ? html`${links.length ? html`<div class="actions stacked">${links.map((provider, i) => html`<a class="button${i === 0 ? ' primary' : ''}" href="${provider.href}">Continue with ${provider.name}</a>`)}</div>` : ''}
${forms.map((provider) => nameForm(provider, view.csrfToken ?? '', links.length === 0))}`
    : html`<p role="alert"><strong>No sign-in method is available for ${view.resourceName} on this server.</strong></p>
<p>An administrator must configure an identity provider: an OpenID Connect provider through the admin API, or GitHub by setting ${view.githubMissing.map((name, i) => html`${i ? ' and ' : ''}<code>${name}</code>`)} (a GitHub OAuth app's credentials, with the callback URL <code>/login/github/callback</code> on this server).</p>`;
  return page(
    'Sign in',
    html`<div class="card">
  ${brandHeader({ name: view.resourceName, logoUri: view.logoUri })}
  <h1>Sign in to continue</h1>
  <p><strong>${view.clientName}</strong>${view.clientHost ? html` (identified by <strong>${view.clientHost}</strong>)` : ''} is asking to access <strong>${view.resourceName}</strong>. Sign in first.</p>
  ${action}
</div>`,
    { banner: view.devLogin ? DEV_LOGIN_BANNER : null },
  );
}

/** Development sign-in: the person types the name to sign in as (DEV_LOGIN_NAME says which names). */
function nameForm(choice: SignInChoice, csrfToken: string, primary: boolean): SafeHtml {
  return html`<form class="name-form" method="post" action="${choice.href}" aria-labelledby="name-form-title">
    <h2 id="name-form-title">${choice.name}</h2>
    <label for="dev-name">Sign in as</label>
    <input type="text" id="dev-name" name="name" required minlength="1" maxlength="64" pattern="[A-Za-z0-9._\\-]{1,64}" autocomplete="username" spellcheck="false" aria-describedby="dev-name-hint">
    <p id="dev-name-hint" class="muted small">Any name of 1 to 64 letters, digits, <code>-</code>, <code>_</code> or <code>.</code>. The same name is the same user next time.</p>
    <input type="hidden" name="csrf_token" value="${csrfToken}">
    <div class="actions"><button type="submit" class="${primary ? 'primary' : ''}">Sign in as this name</button></div>
  </form>`;
}

export interface RefusedView {
  resourceName: string;
  logoUri?: string | null;
  clientName: string;
  /** The provider's display name (GitHub) and the account the person used there (login, else email). */
  providerName: string;
  account: string | null;
  /** The client's redirect URI carrying `error=access_denied`. */
  returnHref: string;
}

/**
 * A person the resource's sign-in policy does not admit. The request is already over (the client gets
 * access_denied), so another account means starting again from the application, after switching at the provider.
 */
export function refusedPage(view: RefusedView): string {
  return page(
    `You can't use ${view.resourceName} with this account`,
    html`<div class="card">
  ${brandHeader({ name: view.resourceName, logoUri: view.logoUri })}
  <h1>You can't use ${view.resourceName} with this account</h1>
  <p role="alert">You signed in with ${view.providerName}${view.account ? html` as <strong>${view.account}</strong>` : ''}, and ${view.resourceName} does not admit this account. Ask its administrator if you think it should.</p>
  <p>To use another account, sign out of ${view.providerName} (or switch accounts there), then return to ${view.clientName} and connect again.</p>
  <div class="actions"><a class="button primary" href="${view.returnHref}">Return to ${view.clientName}</a></div>
</div>`,
  );
}
