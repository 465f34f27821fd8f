import { Injectable } from '@nestjs/common';
import type { HttpRequest } from '../common/http.js';
import { InvalidClient, InvalidToken } from '../common/oauth-errors.js';
import type { ParsedBody } from '../common/body-parser.js';
import { memoForRequest } from '../common/request-memo.js';
import { BASIC_CHALLENGE_HEADER, ClientAuthenticator, parseBasic } from '../registration/client-authenticator.js';
import { ClientsService } from '../registration/clients.service.js';
import type { ClientEntity } from '../registration/client.entity.js';
import { ResourcesService } from '../resources/resources.service.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';

/** Who is asking at /introspect and /revoke: an OAuth client, or a resource server (an MCP server or its backend). */
export type Caller = { kind: 'client'; client: ClientEntity } | { kind: 'resource'; resource: ResourceServerEntity };

/**
 * A resource server authenticates with `Authorization: Basic <resource id>:<registration secret>` or
 * `Authorization: Bearer <registration secret>`; anything else is client authentication exactly as at /token.
 */
@Injectable()
export class CallerAuthenticator {
  constructor(
    private readonly clients: ClientAuthenticator,
    private readonly resources: ResourcesService,
    private readonly registeredClients: ClientsService,
  ) {}

  async authenticate(req: HttpRequest, body: ParsedBody, options: { publicClients: boolean }): Promise<Caller> {
    const caller = await this.identify(req, body);
    if (caller.kind === 'client' && !options.publicClients && caller.client.metadata.token_endpoint_auth_method === 'none') {
      throw new InvalidClient('public clients cannot use this endpoint: it needs a confidential client or a resource server');
    }
    return caller;
  }

  /** Who the credentials prove the caller is, once per request (the rate limiter asks first). */
  identify(req: HttpRequest, body: ParsedBody): Promise<Caller> {
    return memoForRequest(req, 'caller-authentication', () => this.identifyOnce(req, body));
  }

  private async identifyOnce(req: HttpRequest, body: ParsedBody): Promise<Caller> {
    const header = req.headers.authorization;
    if (header && /^Bearer /i.test(header)) {
      const resource = await this.resources.bySecret(header.slice(7).trim());
      if (!resource) throw new InvalidToken('unknown registration secret').withChallenge('Bearer realm="gatehouse", error="invalid_token"');
      return { kind: 'resource', resource };
    }
    if (header && /^Basic /i.test(header)) {
      const { id, secret } = parseBasic(header);
      // An id the record cache holds as a client's is a client's (client and resource ids are independent random
      // UUIDs): no resource lookup, which would miss on every request. Otherwise resources are checked first.
      if (!this.registeredClients.isCached(id) && (await this.resources.exists(id))) {
        const resource = await this.resources.byIdAndSecret(id, secret);
        if (!resource) throw new InvalidClient('resource server authentication failed').withChallenge(BASIC_CHALLENGE_HEADER);
        return { kind: 'resource', resource };
      }
    }
    return { kind: 'client', client: await this.clients.authenticate(req, body) };
  }
}
