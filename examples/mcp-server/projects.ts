import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { z } from 'zod';

/** Each tool and the scopes it needs on top of the endpoint's `projects:read`. */
export const TOOL_SCOPES: Record<string, string[]> = {
  list_projects: ['projects:read'],
  create_project: ['projects:write'],
};
export const BASE_SCOPES = ['projects:read'];

export interface Project {
  id: number;
  name: string;
  owner: string;
}

/** The example's "product data": projects per Gatehouse subject. */
export class ProjectStore {
  private readonly projects: Project[] = [];

  list(owner: string): Project[] {
    return this.projects.filter((project) => project.owner === owner);
  }

  create(owner: string, name: string): Project {
    const project = { id: this.projects.length + 1, name, owner };
    this.projects.push(project);
    return project;
  }
}

/** A fresh MCP server per request (the transport is stateless); tools check scopes again, as defence in depth. */
export function buildMcpServer(store: ProjectStore, subject: string): McpServer {
  const server = new McpServer({ name: 'gatehouse-example-projects', version: '1.0.0' });
  const allowed = (auth: AuthInfo | undefined, tool: string) => (TOOL_SCOPES[tool] ?? []).every((scope) => auth?.scopes.includes(scope));

  server.registerTool('list_projects', { description: 'List your projects (needs projects:read)' }, (extra) => {
    if (!allowed(extra.authInfo, 'list_projects')) return { isError: true, content: [{ type: 'text', text: 'missing scope projects:read' }] };
    return { content: [{ type: 'text', text: JSON.stringify(store.list(subject)) }] };
  });

  server.registerTool(
    'create_project',
    { description: 'Create a project (needs projects:write)', inputSchema: { name: z.string().min(1).max(100) } },
    ({ name }, extra) => {
      if (!allowed(extra.authInfo, 'create_project')) return { isError: true, content: [{ type: 'text', text: 'missing scope projects:write' }] };
      return { content: [{ type: 'text', text: JSON.stringify(store.create(subject, name)) }] };
    },
  );
  return server;
}
