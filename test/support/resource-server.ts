import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Stands in for a protected MCP server: it only publishes Protected Resource Metadata (RFC 9728) naming Gatehouse,
 * which is how a real MCP client discovers the authorization server.
 */
export class FakeResourceServer {
  private server: Server | null = null;
  url = '';

  constructor(
    private readonly issuer: string,
    private readonly scopes: string[],
    private readonly path = '/mcp',
  ) {}

  get resource(): string {
    return `${this.url}${this.path}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/.well-known/oauth-protected-resource' + this.path || path === '/.well-known/oauth-protected-resource') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ resource: this.resource, authorization_servers: [this.issuer], scopes_supported: this.scopes, bearer_methods_supported: ['header'] }));
        return;
      }
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${this.url}/.well-known/oauth-protected-resource${this.path}"` }).end();
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
