import { Controller, Delete, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { AuthContext, mcpToolScopes, RequireScopesFor, type GatehouseAuth } from 'gatehouse-guard';
import { BASE_SCOPES, buildMcpServer, ProjectStore, TOOL_SCOPES } from './projects.js';

/**
 * The MCP endpoint. Every message needs `projects:read`; calling `create_project` also needs `projects:write`,
 * checked before the message reaches the MCP server, so a client without it gets an HTTP 403 `insufficient_scope`
 * and can step up.
 */
@Controller('mcp')
export class McpController {
  private readonly store = new ProjectStore();

  @Post()
  @RequireScopesFor(mcpToolScopes(TOOL_SCOPES, BASE_SCOPES))
  async post(@AuthContext() auth: GatehouseAuth, @Req() req: Request & { auth?: AuthInfo }, @Res() res: Response): Promise<void> {
    const server = buildMcpServer(this.store, auth.sub);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    // The MCP SDK hands `req.auth` to tools as `extra.authInfo`.
    req.auth = { token: auth.token, clientId: auth.clientId, scopes: auth.scopes, expiresAt: auth.claims.exp };
    await transport.handleRequest(req, res, req.body);
  }

  /** Stateless server: no server-initiated stream and no session to end. */
  @Get()
  @HttpCode(405)
  get(@Res({ passthrough: true }) res: Response): { error: string } {
    res.setHeader('Allow', 'POST');
    return { error: 'method_not_allowed' };
  }

  @Delete()
  @HttpCode(405)
  delete(@Res({ passthrough: true }) res: Response): { error: string } {
    res.setHeader('Allow', 'POST');
    return { error: 'method_not_allowed' };
  }
}
