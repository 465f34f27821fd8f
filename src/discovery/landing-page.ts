import { html, page } from '../common/html.js';
import { DEV_LOGIN_BANNER } from '../authorization/views.js';

export interface LandingView {
  issuer: string;
  devLogin: boolean;
}

/** GET /: what this server is and where its public documents are, for a person who opens the issuer URL. */
export function landingPage(view: LandingView): string {
  const links: Array<[path: string, what: string]> = [
    ['/.well-known/oauth-authorization-server', 'Authorization server metadata (RFC 8414): every endpoint MCP clients use'],
    ['/.well-known/jwks.json', 'The public keys access tokens are signed with'],
    ['/account', 'Your account: the applications you allowed, and revoking them'],
  ];
  return page(
    'Gatehouse',
    html`<div class="card">
  <header class="brand"><span class="app">Gatehouse</span></header>
  <h1>An OAuth 2.1 authorization server for MCP servers</h1>
  <p>This server signs people in and issues access tokens for the MCP servers it protects. MCP clients find it through those servers; there is nothing to do here unless you run it.</p>
  <dl class="details">
    <dt>Issuer</dt><dd><code>${view.issuer}</code></dd>
  </dl>
  <h2>Links</h2>
  <ul>${links.map(([path, what]) => html`<li><a href="${path}"><code>${path}</code></a> — ${what}</li>`)}</ul>
  <p class="muted small">Documentation: see <code>docs/</code> in the Gatehouse distribution (start with <code>docs/getting-started.md</code>).</p>
</div>`,
    { banner: view.devLogin ? DEV_LOGIN_BANNER : null },
  );
}
