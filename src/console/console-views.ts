import { brandHeader, html, page, type SafeHtml } from '../common/html.js';
import { DEV_LOGIN_BANNER, sessionSignInChoices, type SignInChoice } from '../authorization/views.js';
import { formatUtc } from '../account/account-views.js';
import type { SigningKeyState } from '../keys/signing-key.entity.js';
import type { OperatorRole } from './console-operator.entity.js';
import type { ConsoleCounts } from './console.repository.js';

/** What a finished action says on the page it returns to; a fixed set, so a link cannot put words on the page. */
export const CONSOLE_NOTICES = {
  rotated: 'Keys rotated. Gatehouse now signs with the key that was published as next; tokens signed with the retired key still verify until they expire.',
  'signed-out': 'You are signed out.',
} as const;
export type ConsoleNotice = keyof typeof CONSOLE_NOTICES;

export interface SigningKeyView {
  kid: string;
  state: SigningKeyState;
  createdAt: Date;
}

export interface ConsoleView {
  serverName: string;
  operatorName: string;
  role: OperatorRole;
  csrfToken: string;
  notice: ConsoleNotice | null;
  counts: ConsoleCounts;
  /** Each a sentence: what is wrong and what to do. */
  warnings: string[];
  keys: SigningKeyView[];
  now: Date;
  devLogin: boolean;
}

/** The console's overview: the operator, warnings, counts, and the signing keys (with rotation for an admin). */
export function consolePage(view: ConsoleView): string {
  return page(
    'Gatehouse console',
    html`<div class="card">
  ${brandHeader({ name: `${view.serverName} console` })}
  <h1>Overview</h1>
  ${view.notice ? html`<p class="callout" role="status">${CONSOLE_NOTICES[view.notice]}</p>` : ''}
  <p>Signed in as <strong>${view.operatorName}</strong>, <strong>${view.role}</strong>${view.role === 'viewer' ? ' (you can look, not change)' : ''}.</p>
  <form method="post" action="/console/sign-out">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <button type="submit">Sign out</button>
  </form>
  <section aria-labelledby="warnings-title">
    <h2 id="warnings-title">Warnings</h2>
    ${view.warnings.length ? html`<ul class="warnings">${view.warnings.map((warning) => html`<li>${warning}</li>`)}</ul>` : html`<p>None.</p>`}
  </section>
  <section aria-labelledby="counts-title">
    <h2 id="counts-title">Now</h2>
    <dl class="counts">
      ${count('Resource servers', view.counts.resourceServers)}
      ${count('Dynamic clients', view.counts.dynamicClients)}
      ${count('Metadata-document clients', view.counts.metadataDocumentClients)}
      ${count('Pre-registered clients', view.counts.preRegisteredClients)}
      ${count('Users', view.counts.users)}
      ${count('Live grants', view.counts.liveGrants)}
    </dl>
  </section>
  <section aria-labelledby="keys-title">
    <h2 id="keys-title">Signing keys</h2>
    <table>
      <thead><tr><th scope="col">Key id</th><th scope="col">State</th><th scope="col">Age</th></tr></thead>
      <tbody>${view.keys.map((key) => keyRow(key, view.now))}</tbody>
    </table>
    ${view.role === 'admin'
      ? html`<form method="post" action="/console/keys/rotate">
      <input type="hidden" name="csrf_token" value="${view.csrfToken}">
      <p class="muted small">Rotating starts signing with the next key at once, publishes a new next key and retires the active one.</p>
      <button type="submit" class="primary">Rotate keys</button>
    </form>`
      : ''}
  </section>
</div>`,
    { banner: view.devLogin ? DEV_LOGIN_BANNER : null, wide: true },
  );
}

function count(label: string, value: number): SafeHtml {
  return html`<div><dt>${label}</dt><dd>${value}</dd></div>`;
}

function keyRow(key: SigningKeyView, now: Date): SafeHtml {
  return html`<tr><td><code>${key.kid}</code></td><td>${key.state}</td><td><time datetime="${key.createdAt.toISOString()}" title="${formatUtc(key.createdAt)}">${describeAge(now.getTime() - key.createdAt.getTime())}</time></td></tr>`;
}

/** `3 days`, `5 hours`, `12 minutes`, `under a minute`: as precise as an operator needs to judge rotation. */
export function describeAge(ms: number): string {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (minutes < 1) return 'under a minute';
  if (minutes < 60) return plural(minutes, 'minute');
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return plural(hours, 'hour');
  return plural(Math.floor(hours / 24), 'day');
}

export interface ConsoleSignInView {
  serverName: string;
  providers: SignInChoice[];
  notice: ConsoleNotice | null;
  devLogin: boolean;
}

export function consoleSignInPage(view: ConsoleSignInView): string {
  return page(
    'Sign in to the Gatehouse console',
    html`<div class="card">
  ${brandHeader({ name: `${view.serverName} console` })}
  <h1>Sign in to the console</h1>
  ${view.notice ? html`<p class="callout" role="status">${CONSOLE_NOTICES[view.notice]}</p>` : ''}
  <p>The console is for the operators of this server: an administrator must have given you a role.</p>
  ${sessionSignInChoices(view.providers, view.devLogin)}
</div>`,
    { banner: view.devLogin ? DEV_LOGIN_BANNER : null },
  );
}
