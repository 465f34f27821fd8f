import { NestFactory } from '@nestjs/core';
import { McpExampleModule } from '../../examples/mcp-server/app.module.js';
import { createResource, type RunningGatehouse } from './gatehouse.js';
import { freePort } from './net.js';

export interface RunningExampleMcp {
  /** The MCP endpoint, also the registered resource. */
  url: URL;
  close(): Promise<void>;
}

/** The example MCP server on a free loopback port, registered in Gatehouse as the docs register it. */
export async function startExampleMcpServer(gatehouse: RunningGatehouse): Promise<RunningExampleMcp> {
  const port = await freePort();
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  // createResource admits everyone through every provider, as `--allow-everyone` does.
  await createResource(gatehouse, { name: 'Projects', resource: url.href, scopes: ['projects:read', 'projects:write'], default_scopes: ['projects:read'] });
  const app = await NestFactory.create(McpExampleModule.forRoot({ issuer: gatehouse.url, resource: url.href }), { logger: false });
  await app.listen(port, '127.0.0.1');
  return { url, close: () => app.close() };
}
