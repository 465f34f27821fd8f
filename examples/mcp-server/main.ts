import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { McpExampleModule } from './app.module.js';

/**
 * A sibling MCP server protected by Gatehouse. Environment: PORT (3001), GATEHOUSE_ISSUER (http://localhost:3000),
 * MCP_RESOURCE (http://localhost:$PORT/mcp — register exactly this URL as a resource in Gatehouse), and optionally
 * GATEHOUSE_REGISTRATION_SECRET to have revoked tokens refused at once (introspection check).
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3001);
  const issuer = process.env.GATEHOUSE_ISSUER ?? 'http://localhost:3000';
  const resource = process.env.MCP_RESOURCE ?? `http://localhost:${port}/mcp`;
  const secret = process.env.GATEHOUSE_REGISTRATION_SECRET;
  const app = await NestFactory.create(
    McpExampleModule.forRoot({ issuer, resource, revocation: secret ? { mode: 'introspect', registrationSecret: secret } : { mode: 'none' } }),
  );
  // Browser-based MCP clients must be able to read the challenge and the session header.
  app.enableCors({ exposedHeaders: ['WWW-Authenticate', 'Mcp-Session-Id'] });
  await app.listen(port);
  console.log(`MCP server on ${resource}, protected by ${issuer}`);
}

void main();
