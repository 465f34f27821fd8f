import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { completeConsent, completeLogin, GatehouseError } from 'gatehouse-client';

export interface ProductUser {
  id: string;
  email?: string;
  name?: string;
}

/**
 * A product with its own users, on loopback: a login page that "signs in" `currentUser` and completes Gatehouse's
 * external login from its backend, and a consent page that reports `consentDecision` — both with gatehouse-client,
 * as a real product backend would. It records what Gatehouse sent it.
 */
export class FakeProduct {
  currentUser: ProductUser = { id: 'product-user-42', email: 'ada@example.com', name: 'Ada' };
  consentDecision: 'approve' | 'deny' = 'approve';
  consentScopes: string[] | undefined;
  readonly loginRequests: URL[] = [];
  readonly consentRequests: URL[] = [];
  private server: Server | null = null;
  url = '';

  constructor(
    private readonly gatehouseUrl: string,
    /** The resource server's registration secret (set once the resource exists). */
    public registrationSecret = '',
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    try {
      if (url.pathname === '/login') {
        this.loginRequests.push(url);
        const { redirectUri } = await completeLogin({
          baseUrl: this.gatehouseUrl,
          registrationSecret: this.registrationSecret,
          externalAuthId: url.searchParams.get('external_auth_id') ?? '',
          user: this.currentUser,
        });
        res.writeHead(302, { location: redirectUri }).end();
        return;
      }
      if (url.pathname === '/consent') {
        this.consentRequests.push(url);
        const { redirectUri } = await completeConsent({
          baseUrl: this.gatehouseUrl,
          registrationSecret: this.registrationSecret,
          interactionId: url.searchParams.get('interaction_id') ?? '',
          userId: url.searchParams.get('user_id') ?? '',
          decision: this.consentDecision,
          ...(this.consentScopes ? { scopes: this.consentScopes } : {}),
        });
        res.writeHead(302, { location: redirectUri }).end();
        return;
      }
      res.writeHead(404).end();
    } catch (error) {
      const status = error instanceof GatehouseError ? error.status || 502 : 500;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(error instanceof Error ? error.message : String(error));
    }
  }
}
