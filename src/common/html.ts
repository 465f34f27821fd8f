import type { ServerResponse } from 'node:http';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

/** A tagged template that escapes every interpolated value unless it is already `SafeHtml`. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type HtmlValue = string | number | SafeHtml | readonly SafeHtml[] | null | undefined | false;

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map((item: SafeHtml) => item.value).join('');
  return escapeHtml(String(value));
}

/** Whose page it is, at the top of every page: a resource server's name and logo where the page is for one. */
export interface PageBrand {
  name: string;
  logoUri?: string | null;
}

/** The brand of pages that are for no particular resource server. */
export const GATEHOUSE_BRAND: PageBrand = { name: 'Gatehouse' };

export function brandHeader(brand: PageBrand): SafeHtml {
  return html`<header class="brand">${brand.logoUri ? html`<img src="${brand.logoUri}" alt="${brand.name} logo" width="40" height="40">` : ''}<span class="app">${brand.name}</span></header>`;
}

/**
 * The page frame: no scripts at all, inline styles only, and a CSP that forbids everything else.
 * frame-ancestors 'none' keeps the consent page out of other sites' frames (clickjacking).
 * No form-action directive: browsers apply it to the redirect after the consent POST, which must reach the client.
 */
export const PAGE_SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

/**
 * The operator console's pages may also run Gatehouse's own script files (never inline script) and fetch from this
 * origin (the live audit stream); everything else stays as strict as on the pages an end user sees.
 */
export const SCRIPTED_PAGE_SECURITY_HEADERS: Record<string, string> = {
  ...PAGE_SECURITY_HEADERS,
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

/** What a page may carry besides its body: a banner above it that nobody can miss (a development setting, say). */
export interface PageOptions {
  banner?: SafeHtml | null;
  /** A page of tables and figures (the operator console) rather than one card of choices: a wider column. */
  wide?: boolean;
  /** Same-origin script paths, loaded deferred; only pages sent with SCRIPTED_PAGE_SECURITY_HEADERS may run them. */
  scripts?: readonly string[];
  /** Above the main landmark: a site header with its navigation (the console's). */
  header?: SafeHtml;
  /** Extra rules for this page's own layout, appended after the shared ones: a constant in code, never user input. */
  styles?: string;
}

export function page(title: string, body: SafeHtml, options: PageOptions = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>
  /*
   * Every text colour reaches WCAG AA (4.5:1) on both --card and --bg, in both schemes (test/e2e/pages-contrast-browser
   * measures it). --accent is for links and focus rings; --accent-fill, the primary button's fill in both schemes, carries
   * white text at 5.2:1 (the dark scheme's lighter accent would give 3.1:1). --field-line outlines form fields at 3:1 or more.
   */
  :root { color-scheme: light dark; --fg:#1f2328; --muted:#59636e; --bg:#f6f8fa; --card:#fff; --line:#d1d9e0; --accent:#0969da; --field-line:#818b98; }
  :root { --accent-fill:#0969da; --warn-bg:#fff8c5; --warn-line:#9a6700; }
  @media (prefers-color-scheme: dark) { :root { --fg:#e6edf3; --muted:#9198a1; --bg:#0d1117; --card:#151b23; --line:#3d444d; --accent:#4493f8; --field-line:#768390; --warn-bg:#3b2300; --warn-line:#d29922; } }
  * { box-sizing: border-box; }
  body { margin:0; font:16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
  main { max-width: 30rem; margin: 2rem auto; padding: 0 1rem; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:1.5rem; }
  h1 { font-size:1.25rem; margin:0 0 1rem; }
  p, li { overflow-wrap:anywhere; }
  .muted { color:var(--muted); font-size:.9rem; }
  .brand { display:flex; align-items:center; gap:.75rem; margin-bottom:1.25rem; }
  .brand img { width:40px; height:40px; border-radius:8px; object-fit:contain; }
  .brand .app { font-weight:600; }
  h2 { font-size:1rem; margin:1.25rem 0 .5rem; }
  .callout { background:var(--bg); border:1px solid var(--line); border-radius:8px; padding:.75rem 1rem; }
  .small { font-size:.85rem; }
  dl.details { display:grid; grid-template-columns:auto 1fr; gap:.25rem .75rem; font-size:.85rem; color:var(--muted); margin:1rem 0 0; }
  dl.details dd { margin:0; overflow-wrap:anywhere; }
  a { color:var(--accent); }
  footer a { color:var(--muted); }
  ul.scopes { padding-left:1.2rem; }
  ul.scopes li + li { margin-top:.25rem; }
  ul.scopes.plain { list-style:none; padding:0; margin:0; }
  code.scope { font-size:.8em; color:var(--muted); }
  code { font-size:.9em; }
  .actions { display:flex; gap:.75rem; margin-top:1.5rem; flex-wrap:wrap; }
  .actions.stacked { flex-direction:column; }
  button, .button { font:inherit; padding:.6rem 1.2rem; border-radius:8px; border:1px solid var(--line); background:var(--card); color:var(--fg); cursor:pointer; text-decoration:none; display:inline-block; }
  button.primary, .button.primary { background:var(--accent-fill); border-color:var(--accent-fill); color:#fff; }
  button:focus-visible, .button:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
  input:not([type=hidden]) { font:inherit; padding:.55rem .75rem; border:1px solid var(--field-line); border-radius:8px; background:var(--card); color:var(--fg); max-width:100%; }
  input::placeholder { color:var(--muted); opacity:1; }
  input:focus-visible { outline:3px solid var(--accent); outline-offset:1px; }
  button.link { padding:0; border:0; border-radius:0; background:none; color:var(--accent); text-decoration:underline; font-size:inherit; }
  footer { margin-top:1rem; }
  .banner { background:var(--warn-bg); border:2px solid var(--warn-line); border-radius:8px; padding:.75rem 1rem; margin-bottom:1rem; }
  label { display:block; font-weight:600; margin:.5rem 0 .25rem; }
  input[type=text] { width:100%; }
  ul.applications, ul.identities { list-style:none; padding:0; margin:0; }
  li.application { border-top:1px solid var(--line); padding:1rem 0; }
  li.application:last-child { padding-bottom:0; }
  li.application h3 { font-size:1rem; margin:0; }
  li.application p { margin:.1rem 0 0; }
  li.application form { margin-top:.75rem; }
  main.wide { max-width: 60rem; }
  table { border-collapse:collapse; width:100%; font-size:.9rem; }
  th, td { text-align:left; padding:.4rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; }
  td code { overflow-wrap:anywhere; word-break:break-all; }
  dl.counts { display:grid; grid-template-columns:repeat(auto-fit, minmax(9rem, 1fr)); gap:.75rem; margin:0; }
  dl.counts div { border:1px solid var(--line); border-radius:8px; padding:.5rem .75rem; }
  dl.counts dt { color:var(--muted); font-size:.85rem; }
  dl.counts dd { margin:0; font-size:1.4rem; font-weight:600; }
  ul.warnings { padding-left:1.2rem; }
  @media (max-width: 420px) { main { margin:1rem auto; } .card { padding:1.1rem; } .actions button, .actions .button { flex:1 1 100%; text-align:center; } }
${new SafeHtml(options.styles ?? '')}
</style>
${(options.scripts ?? []).map((src) => html`<script src="${src}" defer></script>`)}
</head>
<body>${options.header ?? ''}<main${options.wide ? html` class="wide"` : ''}>${options.banner ? html`<div class="banner" role="alert">${options.banner}</div>` : ''}${body}</main></body>
</html>`.value;
}

/**
 * An HTML page with the page security headers (no-store among them, unless `cacheControl` says otherwise for a page
 * that is the same for everyone), on either path (Express or the fast lane).
 */
export function sendPage(res: ServerResponse, status: number, body: string, cacheControl?: string, headers: Record<string, string> = PAGE_SECURITY_HEADERS): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (cacheControl !== undefined) res.setHeader('Cache-Control', cacheControl);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(body);
}
