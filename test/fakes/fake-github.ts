import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface GithubUser {
  id: number;
  login: string;
  name: string;
  /** Organisation logins (answered only to a token granted `read:org`). */
  orgs?: string[];
  /** Teams as `org/team-slug` (answered only to a token granted `read:org`). */
  teams?: string[];
  /** The account's emails (answered only to a token granted `user:email`). */
  emails?: Array<{ email: string; verified: boolean; primary: boolean }>;
}

interface Grant {
  user: GithubUser;
  scopes: string[];
}

/**
 * A fake GitHub OAuth server on loopback: /login/oauth/authorize signs in `nextUser` and redirects back at once
 * (or says access_denied), /login/oauth/access_token exchanges the code (checking client credentials and
 * redirect), /api/v3/user returns the profile; /api/v3/user/orgs, /user/teams and /user/emails answer as GitHub does
 * for the scopes the sign-in asked for (paginated, with Link headers). Gatehouse reaches it through the GITHUB_*_URL settings, exactly
 * as it would reach GitHub Enterprise Server.
 */
export class FakeGithub {
  readonly clientId = 'fake-github-client';
  readonly clientSecret = randomBytes(16).toString('hex');
  nextUser: GithubUser = { id: 4242, login: 'octocat', name: 'The Octocat' };
  /** When set, the next authorization is refused by "the user". */
  denyNext = false;
  /** When set, the next call to the organisation, team or email API fails with this status. */
  apiFailureNext: number | null = null;
  readonly authorizeRequests: URL[] = [];
  /** The API paths called with each request's `page`, e.g. `/user/teams?page=2`. */
  readonly apiCalls: string[] = [];
  private readonly codes = new Map<string, Grant & { redirectUri: string }>();
  private readonly tokens = new Map<string, Grant>();
  private server: Server | null = null;
  private base = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  get env(): Record<string, string> {
    return {
      GITHUB_CLIENT_ID: this.clientId,
      GITHUB_CLIENT_SECRET: this.clientSecret,
      GITHUB_AUTHORIZATION_URL: `${this.base}/login/oauth/authorize`,
      GITHUB_TOKEN_URL: `${this.base}/login/oauth/access_token`,
      GITHUB_USER_PROFILE_URL: `${this.base}/api/v3/user`,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      this.authorizeRequests.push(url);
      const redirectUri = url.searchParams.get('redirect_uri') ?? '';
      const back = new URL(redirectUri);
      const state = url.searchParams.get('state');
      if (url.searchParams.get('client_id') !== this.clientId) return send(res, 400, { error: 'unknown client' });
      if (this.denyNext) {
        this.denyNext = false;
        back.searchParams.set('error', 'access_denied');
      } else {
        const code = randomBytes(10).toString('hex');
        const scopes = (url.searchParams.get('scope') ?? '').split(/[ ,]+/).filter(Boolean);
        this.codes.set(code, { user: this.nextUser, scopes, redirectUri });
        back.searchParams.set('code', code);
      }
      if (state) back.searchParams.set('state', state);
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      const params = new URLSearchParams(await readBody(req));
      const grant = this.codes.get(params.get('code') ?? '');
      this.codes.delete(params.get('code') ?? '');
      const basic = req.headers.authorization?.startsWith('Basic ')
        ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString().split(':')
        : [params.get('client_id'), params.get('client_secret')];
      if (basic[0] !== this.clientId || basic[1] !== this.clientSecret) return send(res, 401, { error: 'incorrect_client_credentials' });
      if (!grant || grant.redirectUri !== params.get('redirect_uri')) return send(res, 200, { error: 'bad_verification_code' });
      const token = `gho_${randomBytes(16).toString('hex')}`;
      this.tokens.set(token, { user: grant.user, scopes: grant.scopes });
      return send(res, 200, { access_token: token, token_type: 'bearer', scope: grant.scopes.join(',') });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/api/v3/user')) {
      const token = /^(?:token|Bearer) (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const grant = this.tokens.get(token);
      if (!grant) return send(res, 401, { message: 'Bad credentials' });
      const { user, scopes } = grant;
      if (url.pathname === '/api/v3/user') return send(res, 200, { id: user.id, login: user.login, name: user.name, node_id: `U_${user.id}`, type: 'User' });
      this.apiCalls.push(`${url.pathname.slice('/api/v3'.length)}?page=${url.searchParams.get('page') ?? '1'}`);
      if (this.apiFailureNext !== null) {
        const status = this.apiFailureNext;
        this.apiFailureNext = null;
        return send(res, status, { message: 'Server Error' });
      }
      const readOrg = scopes.includes('read:org');
      if (url.pathname === '/api/v3/user/orgs') {
        // Without read:org GitHub lists only public memberships; the fake's are all private.
        return this.page(res, url, readOrg ? (user.orgs ?? []).map((login) => ({ login })) : []);
      }
      if (url.pathname === '/api/v3/user/teams') {
        if (!readOrg) return send(res, 403, { message: 'Resource not accessible by integration' });
        return this.page(
          res,
          url,
          (user.teams ?? []).map((team) => ({ slug: team.split('/')[1], organization: { login: team.split('/')[0] } })),
        );
      }
      if (url.pathname === '/api/v3/user/emails') {
        if (!scopes.includes('user:email')) return send(res, 404, { message: 'Not Found' });
        return this.page(res, url, user.emails ?? []);
      }
    }
    send(res, 404, { message: 'Not Found' });
  }

  /** One page of `items`, with GitHub's Link header to the next one. */
  private page(res: ServerResponse, url: URL, items: unknown[]): void {
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100);
    const page = Number(url.searchParams.get('page') ?? 1);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (page * perPage < items.length) {
      const next = new URL(url.href);
      next.searchParams.set('page', String(page + 1));
      headers.link = `<${next.href}>; rel="next"`;
    }
    res.writeHead(200, headers).end(JSON.stringify(items.slice((page - 1) * perPage, page * perPage)));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (data += chunk));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
