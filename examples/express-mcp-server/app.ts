import express, { type Express } from 'express';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { AccessTokenVerifier, getGatehouseAuth, mcpToolScopes, requireGatehouseAuth, serveProtectedResourceMetadata, type GatehouseGuardOptions } from 'gatehouse-guard/express';
import { BASE_SCOPES, buildMcpServer, ProjectStore, TOOL_SCOPES } from '../mcp-server/projects.js';

/**
 * The example MCP server of `examples/mcp-server/`, without NestJS: the MCP SDK's Streamable HTTP transport on
 * Express, behind gatehouse-guard's middleware. Every message needs `projects:read`; `create_project` also needs
 * `projects:write`, checked before the message reaches the MCP server so that a client without it can step up.
 */
export function createExpressMcpApp(options: Pick<GatehouseGuardOptions, 'issuer' | 'resource' | 'revocation'>): Express {
  const verifier = new AccessTokenVerifier({
    ...options,
    resourceName: 'Projects (Gatehouse example on Express)',
    scopesSupported: [...new Set([...BASE_SCOPES, ...Object.values(TOOL_SCOPES).flat()])],
  });
  const store = new ProjectStore();
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json());
  app.use(serveProtectedResourceMetadata({ verifier }));
  const path = new URL(verifier.resource).pathname;
  app.post(path, requireGatehouseAuth({ verifier, requiredScopes: mcpToolScopes(TOOL_SCOPES, BASE_SCOPES) }), async (req, res) => {
    // Stateless: a fresh server and transport per request; the transport hands req.auth to tools as extra.authInfo.
    const server = buildMcpServer(store, getGatehouseAuth(req).sub);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  // No server-initiated stream and no session to end.
  app.all(path, (_req, res) => void res.set('Allow', 'POST').status(405).json({ error: 'method_not_allowed' }));
  return app;
}
