import { Injectable } from '@nestjs/common';
import type { ParsedBody } from '../common/body-parser.js';
import type { HttpRequest } from '../common/http.js';
import type { ProvenCaller, RateLimitCallers } from '../rate-limit/rate-limit-options.js';
import { ClientAuthenticator } from '../registration/client-authenticator.js';
import type { ClientEntity } from '../registration/client.entity.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { resourceFromBearer } from '../resources/registration-secret.guard.js';
import { ResourcesService } from '../resources/resources.service.js';
import { CallerAuthenticator } from './caller-authenticator.js';

/**
 * The rate limiter's view of a request's credentials, checked by the same authenticators as the routes (each
 * memoized per request, so the route reuses the answer). Here because introspection already depends on both
 * clients and resource servers.
 */
@Injectable()
export class ProvenCallers implements RateLimitCallers {
  constructor(
    private readonly clients: ClientAuthenticator,
    private readonly callers: CallerAuthenticator,
    private readonly resources: ResourcesService,
  ) {}

  async client(req: HttpRequest, body: ParsedBody): Promise<ProvenCaller> {
    return provenClient(await this.clients.authenticate(req, body));
  }

  async resourceServer(req: HttpRequest): Promise<ProvenCaller | null> {
    const resource = await resourceFromBearer(req, this.resources);
    return resource ? provenResource(resource) : null;
  }

  async clientOrResourceServer(req: HttpRequest, body: ParsedBody): Promise<ProvenCaller> {
    const caller = await this.callers.identify(req, body);
    return caller.kind === 'resource' ? provenResource(caller.resource) : provenClient(caller.client);
  }
}

function provenClient(client: ClientEntity): ProvenCaller {
  return { kind: 'client', clientId: client.id, confidential: client.metadata.token_endpoint_auth_method !== 'none' };
}

function provenResource(resource: ResourceServerEntity): ProvenCaller {
  return { kind: 'resource', resourceId: resource.id, resource: resource.resource };
}
