import { brandHeader, html, page, type SafeHtml } from '../common/html.js';
import { DEV_LOGIN_BANNER, sessionSignInChoices, type SignInChoice } from '../authorization/views.js';
import { formatUtc } from '../account/account-views.js';
import type { SigningKeyState } from '../keys/signing-key.entity.js';
import { consolePage, csrfField, type SignedInOperator } from './console-layout.js';
import type { ConsoleCounts } from './console.repository.js';
import type { ActivityView } from './console-activity.js';
import { activitySection, CHART_STYLES } from './console-charts.js';

/** What the sign-in page says after a sign-out; a fixed set, so a link cannot put words on the page. */
export const SIGN_IN_NOTICES = {
  'signed-out': 'You are signed out.',
} as const;

export const KEYS_NOTICES = {
  rotated: 'Keys rotated. Gatehouse now signs with the key that was published as next; tokens signed with the retired key still verify until they expire.',
} as const;

export interface SigningKeyView {
  kid: string;
  alg: string;
  state: SigningKeyState;
  createdAt: Date;
}

export interface OverviewView {
  counts: ConsoleCounts;
  /** Each a sentence: what is wrong and what to do. */
  warnings: string[];
  /** The charts' series over the range the operator chose. */
  activity: ActivityView;
}

/** The console's overview: warnings, then what the server holds now, then what happened over the last hour or day. */
export function overviewPage(operator: SignedInOperator, view: OverviewView): string {
  return consolePage(
    operator,
    'overview',
    'Overview',
    html`<section aria-labelledby="warnings-title">
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
  ${activitySection(view.activity)}`,
    { styles: CHART_STYLES },
  );
}

/** The signing keys with their states and ages; an admin may rotate them. */
export function keysPage(operator: SignedInOperator, keys: SigningKeyView[], now: Date, notice: string | null): string {
  return consolePage(
    operator,
    'keys',
    'Signing keys',
    html`<table>
    <caption class="muted small">Published in the JWKS: the next key, the active key that signs, and retired keys that still verify.</caption>
    <thead><tr><th scope="col">Key id</th><th scope="col">Algorithm</th><th scope="col">State</th><th scope="col">Age</th></tr></thead>
    <tbody>${keys.map((key) => keyRow(key, now))}</tbody>
  </table>
  ${operator.role === 'admin'
    ? html`<form method="post" action="/console/keys/rotate">
    ${csrfField(operator)}
    <p class="muted small">Rotating starts signing with the next key at once, publishes a new next key and retires the active one.</p>
    <button type="submit" class="primary">Rotate keys</button>
  </form>`
    : ''}`,
    { notice },
  );
}

function count(label: string, value: number): SafeHtml {
  return html`<div><dt>${label}</dt><dd>${value}</dd></div>`;
}

function keyRow(key: SigningKeyView, now: Date): SafeHtml {
  return html`<tr><td><code>${key.kid}</code></td><td>${key.alg}</td><td>${key.state}</td><td><time datetime="${key.createdAt.toISOString()}" title="${formatUtc(key.createdAt)}">${describeAge(now.getTime() - key.createdAt.getTime())}</time></td></tr>`;
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
  notice: string | null;
  devLogin: boolean;
}

export function consoleSignInPage(view: ConsoleSignInView): string {
  return page(
    'Sign in to the Gatehouse console',
    html`<div class="card">
  ${brandHeader({ name: `${view.serverName} console` })}
  <h1>Sign in to the console</h1>
  ${view.notice ? html`<p class="callout" role="status">${view.notice}</p>` : ''}
  <p>The console is for the operators of this server: an administrator must have given you a role.</p>
  ${sessionSignInChoices(view.providers, view.devLogin)}
</div>`,
    { banner: view.devLogin ? DEV_LOGIN_BANNER : null },
  );
}
