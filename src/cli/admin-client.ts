/** The admin API over HTTP: what every CLI command but `migrate` and `serve` goes through. */
export interface AdminClient {
  get(path: string, query?: Record<string, string | undefined>): Promise<unknown>;
  post(path: string, body?: unknown): Promise<unknown>;
  patch(path: string, body: unknown): Promise<unknown>;
  put(path: string, body: unknown): Promise<unknown>;
  delete(path: string): Promise<unknown>;
}

/** An admin API error answer ({error, error_description}); the CLI prints it as it came and exits 1. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string | undefined,
  ) {
    super(description ?? error);
    this.name = 'AdminApiError';
  }

  toJSON(): { error: string; error_description?: string } {
    return this.description === undefined ? { error: this.error } : { error: this.error, error_description: this.description };
  }
}

/** The server could not be reached at all (refused, timed out, not HTTP). */
export class ServerUnreachable extends Error {}

export class HttpAdminClient implements AdminClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 30_000,
  ) {}

  get(path: string, query: Record<string, string | undefined> = {}): Promise<unknown> {
    const search = new URLSearchParams(Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined));
    return this.send('GET', search.size ? `${path}?${search}` : path);
  }

  post(path: string, body?: unknown): Promise<unknown> {
    return this.send('POST', path, body);
  }

  patch(path: string, body: unknown): Promise<unknown> {
    return this.send('PATCH', path, body);
  }

  put(path: string, body: unknown): Promise<unknown> {
    return this.send('PUT', path, body);
  }

  delete(path: string): Promise<unknown> {
    return this.send('DELETE', path);
  }

  private async send(method: string, path: string, body?: unknown): Promise<unknown> {
    // The user agent names the CLI in the audit events its changes record.
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json', 'user-agent': 'gatehouse-cli' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ServerUnreachable(`${this.baseUrl} did not answer (${cause?.code ?? cause?.message ?? (error as Error).message})`);
    }
    const text = await response.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ServerUnreachable(`${this.baseUrl} answered ${response.status} with something that is not JSON: is it a Gatehouse server?`);
      }
    }
    if (response.ok) return parsed;
    const answer = (parsed ?? {}) as { error?: unknown; error_description?: unknown };
    throw new AdminApiError(
      response.status,
      typeof answer.error === 'string' ? answer.error : `http_${response.status}`,
      typeof answer.error_description === 'string' ? answer.error_description : undefined,
    );
  }
}
