import { Agent, request as httpRequest } from 'node:http';

/**
 * A small keep-alive HTTP/1.1 client for the multi-step flows (autocannon cannot follow a flow), and a cookie jar
 * that honours Path, so that each side's interaction cookies reach exactly the URLs they were set for.
 */

export interface HttpResponse {
  status: number;
  location: string | null;
  setCookie: string[];
  contentType: string;
  body: string;
}

export class HttpClient {
  private readonly agent: Agent;

  constructor(maxSockets = 16) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  request(method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}, body?: string): Promise<HttpResponse> {
    const target = new URL(url);
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = httpRequest(
        {
          agent: this.agent,
          method,
          hostname: target.hostname,
          port: target.port,
          path: `${target.pathname}${target.search}`,
          headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const setCookie = res.headers['set-cookie'] ?? [];
            resolve({
              status: res.statusCode ?? 0,
              location: res.headers.location ?? null,
              setCookie,
              contentType: res.headers['content-type'] ?? '',
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface Cookie {
  name: string;
  value: string;
  path: string;
}

/** One browser's cookies for one host (the flows never cross hosts with cookies). */
export class CookieJar {
  private cookies: Cookie[] = [];

  store(url: string, setCookie: string[]): void {
    const requestPath = new URL(url).pathname;
    for (const line of setCookie) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = requestPath.replace(/\/[^/]*$/, '') || '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.split('=');
        const lower = key.toLowerCase();
        if (lower === 'path') path = val || '/';
        if (lower === 'max-age' && Number(val) <= 0) expired = true;
        if (lower === 'expires' && Date.parse(val) <= Date.now()) expired = true;
      }
      this.cookies = this.cookies.filter((cookie) => !(cookie.name === name && cookie.path === path));
      if (!expired) this.cookies.push({ name, value, path });
    }
  }

  header(url: string): string {
    const path = new URL(url).pathname;
    return this.cookies
      .filter((cookie) => path === cookie.path || path.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }
}

export function basicAuthorization(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}
