import { createExpressMcpApp } from './app.js';

/**
 * The example MCP server on Express. Environment as for examples/mcp-server: PORT (3001), GATEHOUSE_ISSUER
 * (http://localhost:3000), MCP_RESOURCE (http://localhost:$PORT/mcp — registered in Gatehouse exactly so), and
 * optionally GATEHOUSE_REGISTRATION_SECRET to have revoked tokens refused at once (introspection check).
 */
const port = Number(process.env.PORT ?? 3001);
const issuer = process.env.GATEHOUSE_ISSUER ?? 'http://localhost:3000';
const resource = process.env.MCP_RESOURCE ?? `http://localhost:${port}/mcp`;
const secret = process.env.GATEHOUSE_REGISTRATION_SECRET;
const app = createExpressMcpApp({ issuer, resource, revocation: secret ? { mode: 'introspect', registrationSecret: secret } : { mode: 'none' } });
app.listen(port, () => console.log(`MCP server (Express) on ${resource}, protected by ${issuer}`));
