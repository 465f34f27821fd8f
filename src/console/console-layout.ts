import type { Request, Response } from 'express';
import { html, page, sendPage, SCRIPTED_PAGE_SECURITY_HEADERS, type SafeHtml } from '../common/html.js';
import { DEV_LOGIN_BANNER } from '../authorization/views.js';
import type { OperatorRole } from './console-operator.entity.js';

/** The signed-in operator a console page is drawn for, with what its forms must carry. */
export interface SignedInOperator {
  userId: string;
  name: string;
  role: OperatorRole;
  /** The session's CSRF token, which every form of the console posts back. */
  csrfToken: string;
  /** The host the console belongs to, for page titles. */
  serverName: string;
  devLogin: boolean;
}

/** The console's sections, in the order its navigation lists them. */
export const CONSOLE_SECTIONS = [
  { id: 'overview', href: '/console', label: 'Overview' },
  { id: 'resources', href: '/console/resources', label: 'Resource servers' },
  { id: 'clients', href: '/console/clients', label: 'Clients' },
  { id: 'users', href: '/console/users', label: 'Users' },
  { id: 'audit', href: '/console/audit', label: 'Audit' },
  { id: 'keys', href: '/console/keys', label: 'Keys' },
] as const;
export type ConsoleSection = (typeof CONSOLE_SECTIONS)[number]['id'];

export interface ConsolePageOptions {
  /** A sentence saying what the last action did, from the page's own fixed set of notices. */
  notice?: string | null;
  /** Script files under /console/assets/ this page runs. */
  scripts?: readonly ConsoleScript[];
  /** Rules for this page's own layout (a constant in code). */
  styles?: string;
}

/** The console's own script files, served by ConsoleAssetsController from src/console/assets/. */
export type ConsoleScript = 'console.js' | 'consent-preview.js' | 'audit-stream.js';

/** Tables of ids (the audit trail above all) need more room than the end-user pages' column. */
const LAYOUT_STYLES = `
  main.wide { max-width:80rem; }
  .console-header { background:var(--card); border-bottom:1px solid var(--line); }
  .console-header .bar { max-width:80rem; margin:0 auto; padding:.75rem 1rem; display:flex; flex-wrap:wrap; align-items:center; gap:.5rem 1rem; }
  .console-header .app { font-weight:600; margin-right:auto; }
  .console-header form { margin:0; }
  .console-header button { padding:.3rem .8rem; }
  nav.sections ul { list-style:none; display:flex; flex-wrap:wrap; gap:.25rem; margin:0; padding:0 1rem .5rem; max-width:80rem; margin:0 auto; }
  nav.sections a { display:inline-block; padding:.35rem .7rem; border-radius:6px; color:var(--fg); text-decoration:none; }
  nav.sections a:hover { text-decoration:underline; }
  nav.sections a[aria-current=page] { background:var(--accent-fill); color:#fff; }
  nav.sections a:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
  .who { color:var(--muted); font-size:.9rem; }
`;

/** Every console page: the header with the sections and the operator, a card with the page's title and body. */
export function consolePage(operator: SignedInOperator, section: ConsoleSection, title: string, body: SafeHtml, options: ConsolePageOptions = {}): string {
  const header = html`<header class="console-header">
  <div class="bar">
    <span class="app">${operator.serverName} console</span>
    <span class="who">${operator.name}, ${operator.role}${operator.role === 'viewer' ? ' (you can look, not change)' : ''}</span>
    <form method="post" action="/console/sign-out">${csrfField(operator)}<button type="submit">Sign out</button></form>
  </div>
  <nav class="sections" aria-label="Console sections"><ul>${CONSOLE_SECTIONS.map(
    (item) => html`<li><a href="${item.href}"${item.id === section ? html` aria-current="page"` : ''}>${item.label}</a></li>`,
  )}</ul></nav>
</header>`;
  return page(
    `${title} · Gatehouse console`,
    html`<div class="card">
  <h1>${title}</h1>
  ${options.notice ? html`<p class="callout" role="status">${options.notice}</p>` : ''}
  ${body}
</div>`,
    {
      header,
      banner: operator.devLogin ? DEV_LOGIN_BANNER : null,
      wide: true,
      scripts: (options.scripts ?? []).map((script) => `/console/assets/${script}`),
      styles: LAYOUT_STYLES + (options.styles ?? ''),
    },
  );
}

/** The hidden field every console form posts: the session's CSRF token. */
export function csrfField(operator: SignedInOperator): SafeHtml {
  return html`<input type="hidden" name="csrf_token" value="${operator.csrfToken}">`;
}

/** Console pages may run the console's own script files; nothing else changes from the shared page headers. */
export function sendConsolePage(res: Response, status: number, body: string): void {
  sendPage(res, status, body, undefined, SCRIPTED_PAGE_SECURITY_HEADERS);
}

/** The notice `?status=` names, looked up in the page's fixed set, so a link cannot put words on the page. */
export function noticeOf<Notices extends Record<string, string>>(req: Request, notices: Notices): string | null {
  const status = req.query.status;
  return typeof status === 'string' && Object.hasOwn(notices, status) ? (notices[status] ?? null) : null;
}
