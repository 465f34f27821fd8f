import { html, page, type SafeHtml } from '../common/html.js';

export interface ConsentView {
  clientName: string;
  clientUri: string | null;
  redirectHost: string;
  resourceName: string;
  resourceUrl: string;
  logoUri: string | null;
  policyUri: string | null;
  tosUri: string | null;
  scopes: string[];
  newScopes: string[];
  formAction: string;
  csrfToken: string;
}

export function consentPage(view: ConsentView): string {
  const scopeItems = view.scopes.map((scope) => html`<li><code>${scope}</code>${view.newScopes.includes(scope) ? '' : html` <span class="muted">(already granted)</span>`}</li>`);
  const links: SafeHtml[] = [];
  if (view.policyUri) links.push(html`<a href="${view.policyUri}" rel="noopener noreferrer">Privacy policy</a> `);
  if (view.tosUri) links.push(html`<a href="${view.tosUri}" rel="noopener noreferrer">Terms of service</a>`);
  return page(
    `Authorize ${view.clientName}`,
    html`<div class="card">
  <div class="brand">${view.logoUri ? html`<img src="${view.logoUri}" alt="">` : ''}<span class="muted">${view.resourceName}</span></div>
  <h1><strong>${view.clientName}</strong> wants to access ${view.resourceName}</h1>
  <p>After you approve, you will be sent to <strong>${view.redirectHost}</strong>.</p>
  <p>It is asking for:</p>
  <ul class="scopes">${scopeItems}</ul>
  <p class="muted">Resource: <code>${view.resourceUrl}</code>${view.clientUri ? html`<br>Application site: <code>${view.clientUri}</code>` : ''}</p>
  <form method="post" action="${view.formAction}">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <div class="actions">
      <button type="submit" name="decision" value="approve" class="primary">Approve</button>
      <button type="submit" name="decision" value="deny">Deny</button>
    </div>
  </form>
  ${links.length ? html`<footer class="muted">${links}</footer>` : ''}
</div>`,
  );
}

export interface SignInView {
  clientName: string;
  resourceName: string;
  githubHref: string | null;
  githubMissing: string[];
}

export function signInPage(view: SignInView): string {
  const action = view.githubHref
    ? html`<div class="actions"><a class="button primary" href="${view.githubHref}">Continue with GitHub</a></div>`
    : html`<p role="alert"><strong>GitHub sign-in is not configured on this server.</strong></p>
<p>An administrator must set ${view.githubMissing.map((name, i) => html`${i ? ' and ' : ''}<code>${name}</code>`)} (a GitHub OAuth app's credentials, with the callback URL <code>/login/github/callback</code> on this server) and restart Gatehouse.</p>`;
  return page(
    'Sign in',
    html`<div class="card">
  <h1>Sign in to continue</h1>
  <p><strong>${view.clientName}</strong> is asking to access <strong>${view.resourceName}</strong>. Sign in first.</p>
  ${action}
</div>`,
  );
}
