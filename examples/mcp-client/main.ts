import { createServer } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/**
 * An MCP client for the example MCP server, as a desktop MCP client would be: it registers with Gatehouse, prints the
 * authorization URL for you to open, receives the code on a loopback callback, then lists the tools and calls
 * `list_projects`. Environment: MCP_URL (http://localhost:3001/mcp), CALLBACK_PORT (33418). Everything is kept in
 * memory: each run registers and signs in again.
 */
const mcpUrl = new URL(process.env.MCP_URL ?? 'http://localhost:3001/mcp');
const callbackPort = Number(process.env.CALLBACK_PORT ?? 33418);
const redirectUrl = `http://127.0.0.1:${callbackPort}/callback`;

class ConsoleOAuthProvider implements OAuthClientProvider {
  private client: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  readonly redirectUrl = redirectUrl;
  readonly clientMetadata: OAuthClientMetadata = {
    client_name: 'Gatehouse example MCP client',
    redirect_uris: [redirectUrl],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.client = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL): void {
    console.log(`\nOpen this URL in your browser to sign in and approve:\n\n  ${url.href}\n`);
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
}

/** The authorization code Gatehouse sends the browser back with (or the error it sends instead). */
function receiveCode(): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', redirectUrl);
      if (url.pathname !== '/callback') {
        res.writeHead(404).end();
        return;
      }
      const code = url.searchParams.get('code');
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(code ? 'Signed in. You can close this tab.\n' : `Authorization failed: ${url.searchParams.get('error') ?? 'no code'}\n`);
      server.close();
      if (code) resolve(code);
      else reject(new Error(`authorization failed: ${url.searchParams.get('error')} ${url.searchParams.get('error_description') ?? ''}`));
    });
    server.on('error', reject);
    server.listen(callbackPort, '127.0.0.1');
  });
}

/** The token's subject, for display only: the MCP server verifies the token, this client just reads it. */
function subjectOf(accessToken: string): string {
  const payload = accessToken.split('.')[1] ?? '';
  return String((JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }).sub);
}

async function main(): Promise<void> {
  const provider = new ConsoleOAuthProvider();
  const client = new Client({ name: 'gatehouse-example-client', version: '1.0.0' });
  const code = receiveCode();
  try {
    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await transport.finishAuth(await code);
    await client.connect(transport);
  }
  console.log(`Connected to ${mcpUrl.href} as subject ${subjectOf(provider.tokens()!.access_token)}`);
  const { tools } = await client.listTools();
  console.log(`Tools: ${tools.map((tool) => tool.name).join(', ')}`);
  const result = await client.callTool({ name: 'list_projects', arguments: {} });
  console.log(`list_projects: ${(result.content as Array<{ text?: string }>).map((item) => item.text ?? '').join('')}`);
  await client.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
