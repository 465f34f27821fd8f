import { brandHeader, html, type SafeHtml } from '../common/html.js';
import { describedScope } from '../authorization/views.js';
import { formatUtc } from '../account/account-views.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { IDENTITY_CLAIMS } from '../resources/identity-claims.js';
import { DEFAULT_SECRET_OVERLAP_SECONDS } from '../resources/resources.service.js';
import type { SignInPolicy } from '../resources/sign-in-policy.js';
import { consolePage, csrfField, type SignedInOperator } from './console-layout.js';
import { formFromEntity, parseScopeLines, RULE_FIELDS, type FieldError, type ResourceField, type ResourceForm } from './console-resources-form.js';

export const RESOURCES_NOTICES = {
  deleted: 'Resource server deleted, with its grants.',
} as const;

export const RESOURCE_NOTICES = {
  saved: 'Changes saved.',
} as const;

/** The list: every resource server with what tells them apart; an admin may register another. */
export function resourcesListPage(operator: SignedInOperator, resources: readonly ResourceServerEntity[], notice: string | null): string {
  const table = resources.length
    ? html`<div class="table-scroll" tabindex="0" role="region" aria-label="Resource servers, scrollable">
    <table>
      <thead><tr><th scope="col">Name</th><th scope="col">Resource URI</th><th scope="col">Scopes</th><th scope="col">Who may sign in</th><th scope="col">Created</th></tr></thead>
      <tbody>${resources.map(
        (resource) => html`<tr>
        <td><a href="/console/resources/${resource.id}">${resource.name}</a>${resource.isDefault ? html` <span class="muted">(default)</span>` : ''}</td>
        <td><code>${resource.resource}</code></td>
        <td>${resource.scopes.length}</td>
        <td>${signInSummary(resource)}</td>
        <td><time datetime="${resource.createdAt.toISOString()}">${formatUtc(resource.createdAt)}</time></td>
      </tr>`,
      )}</tbody>
    </table>
  </div>`
    : html`<p>No resource server is registered yet.</p>`;
  return consolePage(
    operator,
    'resources',
    'Resource servers',
    html`${table}
  ${operator.role === 'admin' ? html`<p class="actions"><a class="button primary" href="/console/resources/new">Register a resource server</a></p>` : ''}`,
    { notice, styles: RESOURCE_STYLES },
  );
}

/** Who the sign-in policy admits, in a few words. */
export function signInSummary(resource: Pick<ResourceServerEntity, 'loginMethod' | 'signIn'>): string {
  if (resource.loginMethod === 'external') return 'The product’s own login page';
  const providers = resource.signIn.providers ? ` (${resource.signIn.providers.join(', ')})` : '';
  const allow = resource.signIn.allow;
  if (allow === 'everyone') return `Everyone a provider vouches for${providers}`;
  const rules = RULE_FIELDS.reduce((sum, field) => sum + (allow[field]?.length ?? 0), 0);
  return rules === 0 ? 'Nobody yet: no rules' : `${rules} rule ${rules === 1 ? 'entry' : 'entries'}${providers}`;
}

/** The registration form, blank or as the operator sent it with what was wrong (status 400). */
export function newResourcePage(operator: SignedInOperator, form: ResourceForm, errors: readonly FieldError[] = []): string {
  return consolePage(
    operator,
    'resources',
    'Register a resource server',
    html`${errorSummary(errors)}
  <form method="post" action="/console/resources" novalidate>
    ${csrfField(operator)}
    ${resourceFields(form, errors)}
    <div class="actions"><button type="submit" class="primary">Register</button> <a class="button" href="/console/resources">Cancel</a></div>
  </form>`,
    { scripts: ['consent-preview.js'], styles: RESOURCE_STYLES },
  );
}

/**
 * One resource server. An admin gets the form prefilled (or as sent, with errors), rotation and deletion; a viewer the
 * stored values to read, without a single form.
 */
export function resourcePage(
  operator: SignedInOperator,
  resource: ResourceServerEntity,
  options: { form?: ResourceForm; errors?: readonly FieldError[]; deleteError?: string | null; notice?: string | null } = {},
): string {
  const errors = options.errors ?? [];
  const body =
    operator.role === 'admin'
      ? html`${errorSummary(errors)}
  <form method="post" action="/console/resources/${resource.id}" novalidate aria-label="Edit ${resource.name}">
    ${csrfField(operator)}
    ${resourceFields(options.form ?? formFromEntity(resource), errors)}
    <div class="actions"><button type="submit" class="primary">Save changes</button></div>
  </form>
  <section aria-labelledby="secret-title">
    <h2 id="secret-title">Registration secret</h2>
    <p>The backend of ${resource.name} authenticates with its registration secret. Gatehouse keeps only its digest, so a lost secret cannot be shown: rotate it to get a new one.</p>
    <form method="post" action="/console/resources/${resource.id}/secret">
      ${csrfField(operator)}
      <label for="overlap">Keep the old secret working for</label>
      <select id="overlap" name="overlap">${SECRET_OVERLAPS.map(
        (choice) => html`<option value="${choice.seconds}"${choice.seconds === DEFAULT_SECRET_OVERLAP_SECONDS ? html` selected` : ''}>${choice.label}</option>`,
      )}</select>
      <p class="muted small">A leaked secret: choose “No time: revoke it now”. Otherwise the overlap lets the backend switch without a failed call.</p>
      <button type="submit">Rotate the registration secret</button>
    </form>
  </section>
  <section aria-labelledby="delete-title">
    <h2 id="delete-title">Delete</h2>
    <form method="post" action="/console/resources/${resource.id}/delete">
      ${csrfField(operator)}
      ${options.deleteError ? html`<p class="field-error" id="confirm-error">${options.deleteError}</p>` : ''}
      <p class="check"><input type="checkbox" id="confirm" name="confirm" value="yes" required${options.deleteError ? html` aria-invalid="true" aria-describedby="confirm-error"` : ''}>
        <label for="confirm">Delete ${resource.name} and every grant for it: its users must authorize their applications again if it is registered anew.</label></p>
      <button type="submit">Delete this resource server</button>
    </form>
  </section>`
      : readOnly(resource);
  return consolePage(operator, 'resources', resource.name, html`<p><a href="/console/resources">All resource servers</a></p>${body}`, {
    notice: options.notice ?? null,
    scripts: operator.role === 'admin' ? ['console.js', 'consent-preview.js'] : [],
    styles: RESOURCE_STYLES,
  });
}

/** After registration or rotation: the secret, once, with a way to copy it; never in a URL. */
export function secretPage(operator: SignedInOperator, resource: ResourceServerEntity, secret: string, kind: 'created' | 'rotated', notice: SafeHtml | ''): string {
  return consolePage(
    operator,
    'resources',
    kind === 'created' ? `${resource.name} is registered` : `New registration secret for ${resource.name}`,
    html`<p>Give this registration secret to the backend of ${resource.name}: it authenticates with it (<code>Authorization: Bearer …</code>) to mint tokens, complete sign-ins and consents, and introspect tokens.</p>
  <div class="secret">
    <code id="registration-secret">${secret}</code>
    <button type="button" data-copy="registration-secret" hidden>Copy</button>
    <span id="registration-secret-copied" aria-live="polite"></span>
  </div>
  <p><strong>This secret will not be shown again.</strong> Copy it now and keep it in the backend’s secret store; if it is lost, rotate it.</p>
  ${notice}
  <p><a href="/console/resources/${resource.id}">Continue to ${resource.name}</a></p>`,
    { scripts: ['console.js'], styles: RESOURCE_STYLES },
  );
}

/** The overlaps the rotation form offers (the admin API and CLI take any from 0 to 30 days). */
export const SECRET_OVERLAPS = [
  { seconds: 0, label: 'No time: revoke it now' },
  { seconds: 3600, label: '1 hour' },
  { seconds: DEFAULT_SECRET_OVERLAP_SECONDS, label: '24 hours' },
  { seconds: 7 * 86_400, label: '7 days' },
] as const;

/** What rotation means for the old secret: until when it still works, or that it stopped at once. */
export function rotationNotice(until: Date | null): SafeHtml {
  if (until) {
    return html`<p class="callout">The previous secret keeps working until <time datetime="${until.toISOString()}">${formatUtc(until)}</time>, so that the backend can switch without a gap. After that only this one works.</p>`;
  }
  return html`<p class="callout">The previous secret no longer works: the backend must use this one from now on.</p>`;
}

const FIELD_LABELS: Record<ResourceField, string> = {
  name: 'Name',
  resource: 'Resource URI',
  scopes: 'Scopes',
  default_scopes: 'Default scopes',
  access_token_ttl: 'Access token lifetime',
  refresh_token_ttl: 'Refresh token lifetime',
  is_default: 'Default resource server',
  login_method: 'Login method',
  login_uri: 'Login URI',
  consent_uri: 'Consent URI',
  logo_uri: 'Logo URI',
  policy_uri: 'Privacy policy URI',
  tos_uri: 'Terms of service URI',
  sign_in_providers: 'Providers',
  sign_in_allow: 'Who may sign in',
  github_users: 'GitHub users',
  github_organizations: 'GitHub organisations',
  github_teams: 'GitHub teams',
  email_domains: 'Email domains',
  oidc_groups: 'OpenID Connect groups',
  identity_claims: 'Identity claims',
  require_dpop: 'Require DPoP-bound tokens',
};

/** The first control of a field that is a group (radios, checkboxes): where the summary's link goes. */
function anchorOf(field: ResourceField): string {
  if (field === 'login_method') return 'login_method-gatehouse';
  if (field === 'sign_in_allow') return 'sign_in_allow-everyone';
  if (field === 'identity_claims') return `identity_claim_${IDENTITY_CLAIMS[0]}`;
  return field;
}

function errorSummary(errors: readonly FieldError[]): SafeHtml | '' {
  if (errors.length === 0) return '';
  return html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title">
    <h2 id="error-summary-title">Nothing was saved: ${errors.length === 1 ? 'one field needs' : `${errors.length} fields need`} correcting</h2>
    <ul>${errors.map((error) => html`<li><a href="#${anchorOf(error.field)}">${FIELD_LABELS[error.field]}: ${error.message}</a></li>`)}</ul>
  </div>`;
}

/** A text control with its label, hint and errors, wired with aria-describedby and aria-invalid. */
function textField(
  form: ResourceForm,
  errors: readonly FieldError[],
  field: Exclude<ResourceField, 'is_default' | 'identity_claims' | 'login_method' | 'sign_in_allow' | 'require_dpop'>,
  options: { hint?: SafeHtml | string; type?: 'text' | 'url' | 'number'; rows?: number; attributes?: SafeHtml; required?: boolean } = {},
): SafeHtml {
  const own = errors.filter((error) => error.field === field);
  const described = [options.hint ? `${field}-hint` : '', own.length ? `${field}-error` : ''].filter(Boolean).join(' ');
  const common = html`id="${field}" name="${field}"${described ? html` aria-describedby="${described}"` : ''}${own.length ? html` aria-invalid="true"` : ''}${options.required ? html` required` : ''}${options.attributes ?? ''}`;
  const value = form[field];
  return html`<div class="field">
    <label for="${field}">${FIELD_LABELS[field]}</label>
    ${options.hint ? html`<p class="hint muted" id="${field}-hint">${options.hint}</p>` : ''}
    ${own.length ? html`<p class="field-error" id="${field}-error">${own.map((error, i) => html`${i ? html`<br>` : ''}${error.message}`)}</p>` : ''}
    ${options.rows
      ? html`<textarea ${common} rows="${String(options.rows)}" spellcheck="false">${value}</textarea>`
      : html`<input type="${options.type ?? 'text'}" ${common} value="${value}" spellcheck="false">`}
  </div>`;
}

function groupError(errors: readonly FieldError[], field: ResourceField): SafeHtml | '' {
  const own = errors.filter((error) => error.field === field);
  return own.length ? html`<p class="field-error" id="${field}-error">${own.map((error, i) => html`${i ? html`<br>` : ''}${error.message}`)}</p>` : '';
}

function resourceFields(form: ResourceForm, errors: readonly FieldError[]): SafeHtml {
  const field = (name: Parameters<typeof textField>[2], options?: Parameters<typeof textField>[3]) => textField(form, errors, name, options);
  const radio = (group: 'login_method' | 'sign_in_allow', value: string, label: string) =>
    html`<p class="check"><input type="radio" id="${group}-${value}" name="${group}" value="${value}"${form[group] === value ? html` checked` : ''}${errors.some((error) => error.field === group) ? html` aria-describedby="${group}-error"` : ''}> <label for="${group}-${value}">${label}</label></p>`;
  return html`<fieldset>
    <legend>Resource server</legend>
    ${field('name', { required: true, attributes: html` maxlength="200" autocomplete="off"` })}
    ${field('resource', { type: 'url', required: true, hint: html`The MCP server’s URL (RFC 8707), for example <code>https://mcp.example.com/mcp</code>: the audience of its tokens.` })}
    <p class="check"><input type="checkbox" id="is_default" name="is_default"${form.is_default ? html` checked` : ''} aria-describedby="is_default-hint"> <label for="is_default">${FIELD_LABELS.is_default}</label></p>
    <p class="hint muted" id="is_default-hint">Used for authorization requests that name no resource (at most one is the default).</p>
    ${groupError(errors, 'is_default')}
  </fieldset>
  <fieldset>
    <legend>Scopes</legend>
    ${field('scopes', { rows: 5, required: true, hint: html`One scope a line, then what it lets an application do, as people will read it on the consent page: <code>docs:read — Read your documents</code>. The description is optional.` })}
    ${field('default_scopes', { hint: 'Granted when a request names no scope: some of the scopes above, separated by spaces. Empty: none.' })}
  </fieldset>
  <fieldset>
    <legend>Token lifetimes</legend>
    ${field('access_token_ttl', { type: 'number', hint: 'Seconds, 60 to 86400 (one day). Default 3600.', attributes: html` min="60" max="86400" inputmode="numeric"` })}
    ${field('refresh_token_ttl', { type: 'number', hint: 'Seconds, 300 to 31536000 (one year). Default 2592000 (30 days).', attributes: html` min="300" max="31536000" inputmode="numeric"` })}
  </fieldset>
  <fieldset>
    <legend>Sign-in</legend>
    <fieldset class="group">
      <legend>${FIELD_LABELS.login_method}</legend>
      ${groupError(errors, 'login_method')}
      ${radio('login_method', 'gatehouse', 'Gatehouse’s sign-in page (GitHub, OpenID Connect providers)')}
      ${radio('login_method', 'external', 'The product’s own login page, at the login URI')}
    </fieldset>
    ${field('login_uri', { type: 'url', hint: 'Required for the product’s own login page.' })}
    ${field('sign_in_providers', { hint: html`Which providers may sign people in, separated by spaces: <code>github</code>, <code>dev</code>, <code>oidc:&lt;provider id&gt;</code>. Empty: every configured provider.` })}
    <fieldset class="group">
      <legend>${FIELD_LABELS.sign_in_allow}</legend>
      ${groupError(errors, 'sign_in_allow')}
      ${radio('sign_in_allow', 'everyone', 'Everyone the providers vouch for')}
      ${radio('sign_in_allow', 'rules', 'Only people matching a rule below (no rules: nobody)')}
    </fieldset>
    ${field('github_users', { rows: 2, hint: 'GitHub logins, separated by spaces or lines.' })}
    ${field('github_organizations', { rows: 2, hint: 'Members of these GitHub organisations.' })}
    ${field('github_teams', { rows: 2, hint: html`Members of these GitHub teams, written <code>org/team-slug</code>.` })}
    ${field('email_domains', { rows: 2, hint: html`People with a verified email at <code>acme.com</code>, or <code>*.acme.com</code> for its subdomains.` })}
    ${field('oidc_groups', { rows: 2, hint: 'Groups an OpenID Connect provider puts in its groups claim.' })}
  </fieldset>
  <fieldset>
    <legend>Consent page</legend>
    <div class="consent-grid">
      <div>
        ${field('consent_uri', { type: 'url', hint: 'A consent page the product hosts itself. Empty: Gatehouse’s own, as previewed.' })}
        ${field('logo_uri', { type: 'url', hint: 'A square image, https.' })}
        ${field('policy_uri', { type: 'url' })}
        ${field('tos_uri', { type: 'url' })}
      </div>
      ${consentPreview(form)}
    </div>
  </fieldset>
  <fieldset>
    <legend>${FIELD_LABELS.identity_claims}</legend>
    <p class="hint muted">What its access tokens and introspection answers say about the person, beyond an opaque id. The consent page tells them.</p>
    ${groupError(errors, 'identity_claims')}
    ${IDENTITY_CLAIMS.map(
      (claim) => html`<p class="check"><input type="checkbox" id="identity_claim_${claim}" name="identity_claim_${claim}"${form.identity_claims.includes(claim) ? html` checked` : ''}> <label for="identity_claim_${claim}"><code>${claim}</code></label></p>`,
    )}
  </fieldset>
  <fieldset>
    <legend>Token binding</legend>
    <p class="check"><input type="checkbox" id="require_dpop" name="require_dpop"${form.require_dpop ? html` checked` : ''} aria-describedby="require_dpop-hint"> <label for="require_dpop">${FIELD_LABELS.require_dpop}</label></p>
    <p class="hint muted" id="require_dpop-hint">Tokens for this server only for clients that prove a key (DPoP, RFC 9449): token requests without a proof are refused.</p>
    ${groupError(errors, 'require_dpop')}
  </fieldset>`;
}

/**
 * The head of Gatehouse's consent page as a person will see it (the consent page's own brand header and scope
 * wording), drawn from the form; consent-preview.js redraws it as the operator types. Inert: text only, no controls.
 */
export function consentPreview(form: Pick<ResourceForm, 'name' | 'logo_uri' | 'scopes'>): SafeHtml {
  const { scopes, descriptions } = parseScopeLines(form.scopes);
  const name = form.name.trim() || 'This resource server';
  return html`<section class="preview" aria-labelledby="preview-title" data-consent-preview>
    <h2 id="preview-title">Preview</h2>
    <p class="muted small">The consent page an application’s user sees, with what the form says now.</p>
    <div class="preview-page">
      <div data-preview-brand>${brandHeader({ name, logoUri: safeLogo(form.logo_uri) })}</div>
      <p class="preview-title">Allow <strong>An application</strong> to use <span data-preview-name>${name}</span>?</p>
      <p class="preview-subtitle"><strong>An application is asking to</strong></p>
      <ul class="scopes" data-preview-scopes>${scopes.map((scope) => html`<li>${describedScope(scope, descriptions)}</li>`)}</ul>
    </div>
  </section>`;
}

/** Only an https logo is drawn (what the API accepts anyway), so the preview fetches nothing else. */
function safeLogo(value: string): string | null {
  const trimmed = value.trim();
  return /^https:\/\/[^\s#]+$/i.test(trimmed) ? trimmed : null;
}

/** A viewer's page: the stored values, read only. */
function readOnly(resource: ResourceServerEntity): SafeHtml {
  const optional = (value: string | null) => (value ? html`<code>${value}</code>` : html`<span class="muted">none</span>`);
  return html`<dl class="settings">
    <dt>Resource URI</dt><dd><code>${resource.resource}</code>${resource.isDefault ? ' (the default)' : ''}</dd>
    <dt>Scopes</dt><dd><ul class="scopes plain">${resource.scopes.map((scope) => html`<li>${describedScope(scope, resource.scopeDescriptions)}</li>`)}</ul></dd>
    <dt>Default scopes</dt><dd>${resource.defaultScopes.length ? resource.defaultScopes.map((scope, i) => html`${i ? ' ' : ''}<code>${scope}</code>`) : html`<span class="muted">none</span>`}</dd>
    <dt>Access token lifetime</dt><dd>${String(resource.accessTokenTtl)} seconds</dd>
    <dt>Refresh token lifetime</dt><dd>${String(resource.refreshTokenTtl)} seconds</dd>
    <dt>Login method</dt><dd>${resource.loginMethod === 'external' ? 'The product’s own login page' : 'Gatehouse’s sign-in page'}</dd>
    <dt>Login URI</dt><dd>${optional(resource.loginUri)}</dd>
    <dt>Who may sign in</dt><dd>${signInSummary(resource)}${signInRules(resource.signIn)}</dd>
    <dt>Consent URI</dt><dd>${optional(resource.consentUri)}</dd>
    <dt>Logo URI</dt><dd>${optional(resource.logoUri)}</dd>
    <dt>Privacy policy URI</dt><dd>${optional(resource.policyUri)}</dd>
    <dt>Terms of service URI</dt><dd>${optional(resource.tosUri)}</dd>
    <dt>Identity claims</dt><dd>${resource.identityClaims.length ? resource.identityClaims.map((claim, i) => html`${i ? ', ' : ''}<code>${claim}</code>`) : html`<span class="muted">none</span>`}</dd>
    <dt>Created</dt><dd><time datetime="${resource.createdAt.toISOString()}">${formatUtc(resource.createdAt)}</time></dd>
  </dl>
  ${consentPreview(formFromEntity(resource))}`;
}

function signInRules(policy: SignInPolicy): SafeHtml | '' {
  if (policy.allow === 'everyone') return '';
  const allow = policy.allow;
  const present = RULE_FIELDS.filter((field) => allow[field]?.length);
  if (!present.length) return '';
  return html`<ul class="plain">${present.map((field) => html`<li>${FIELD_LABELS[field]}: ${(allow[field] ?? []).map((entry, i) => html`${i ? ', ' : ''}<code>${entry}</code>`)}</li>`)}</ul>`;
}

const RESOURCE_STYLES = `
  .table-scroll { overflow-x:auto; }
  .table-scroll:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
  fieldset { border:1px solid var(--line); border-radius:8px; margin:1rem 0; padding:.5rem 1rem 1rem; min-width:0; }
  fieldset.group { border:0; padding:0; margin:.75rem 0 .25rem; }
  legend { font-weight:600; padding:0 .25rem; }
  fieldset.group legend { padding:0; }
  .field { margin-top:.5rem; }
  .field input:not([type=hidden]), .field textarea { width:100%; }
  textarea { font:inherit; font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:.9rem; padding:.55rem .75rem; border:1px solid var(--field-line); border-radius:8px; background:var(--card); color:var(--fg); max-width:100%; }
  textarea:focus-visible { outline:3px solid var(--accent); outline-offset:1px; }
  .hint { margin:0 0 .25rem; }
  .check { display:flex; gap:.5rem; align-items:baseline; margin:.35rem 0; }
  .check label { display:inline; font-weight:normal; margin:0; }
  .field-error { color:var(--fg); border-left:4px solid var(--warn-line); padding-left:.5rem; margin:.25rem 0; font-weight:600; }
  .error-summary { border:2px solid var(--warn-line); background:var(--warn-bg); border-radius:8px; padding:.75rem 1rem; margin-bottom:1rem; }
  .error-summary h2 { margin-top:0; }
  .error-summary a { color:var(--fg); }
  .consent-grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(16rem, 1fr)); gap:1rem; align-items:start; }
  .preview { border:1px dashed var(--field-line); border-radius:8px; padding:.5rem 1rem 1rem; }
  .preview h2 { margin-top:.25rem; }
  .preview-page { background:var(--bg); border-radius:8px; padding:1rem; }
  .preview-title { font-size:1.1rem; }
  .secret { display:flex; flex-wrap:wrap; gap:.5rem; align-items:center; }
  .secret code { font-size:1rem; padding:.5rem .75rem; border:1px solid var(--line); border-radius:8px; background:var(--bg); overflow-wrap:anywhere; word-break:break-all; max-width:100%; }
  dl.settings { display:grid; grid-template-columns:minmax(8rem, auto) 1fr; gap:.35rem 1rem; }
  dl.settings dt { font-weight:600; }
  dl.settings dd { margin:0; overflow-wrap:anywhere; }
  ul.plain { list-style:none; padding:0; margin:0; }
  @media (max-width: 420px) { dl.settings { grid-template-columns:1fr; } dl.settings dd { margin-bottom:.5rem; } }
`;
