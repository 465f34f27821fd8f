/** Route metadata keys shared by the decorators and the guard. */
export const GATEHOUSE_PUBLIC = 'gatehouse:public';
export const GATEHOUSE_SCOPES = 'gatehouse:scopes';
export const GATEHOUSE_SCOPE_RESOLVER = 'gatehouse:scope-resolver';

/** Scopes a request needs, computed from the request itself (e.g. from the MCP tool a JSON-RPC body calls). */
export type ScopeResolver = (request: { body?: unknown; method: string; headers: Record<string, string | string[] | undefined> }) => string[];
