import { applyDecorators, Injectable, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { InvalidToken } from '../common/oauth-errors.js';
import { memoForRequest } from '../common/request-memo.js';
import type { HttpRequest } from '../common/http.js';
import { createRequestParamDecorator, type BeforeHandler } from '../common/request-steps.js';
import { ResourcesService } from './resources.service.js';
import type { ResourceServerEntity } from './resource-server.entity.js';

type RequestWithResource = HttpRequest & { resourceServer?: ResourceServerEntity };

/**
 * Server-to-server calls from a product backend: `Authorization: Bearer <registration secret>` names the resource.
 * A BeforeHandler, so the fast lane runs it too.
 */
@Injectable()
export class RegistrationSecretGuard implements CanActivate, BeforeHandler {
  constructor(private readonly resources: ResourcesService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.beforeHandler(context.switchToHttp().getRequest<RequestWithResource>());
    return true;
  }

  async beforeHandler(req: RequestWithResource): Promise<void> {
    req.resourceServer = await callingResource(req, this.resources);
  }
}

/** The resource server whose registration secret is the request's bearer token, or the 401 the guard answers. */
export async function callingResource(req: HttpRequest, resources: ResourcesService): Promise<ResourceServerEntity> {
  const resource = await resourceFromBearer(req, resources);
  if (resource) return resource;
  throw new InvalidToken('a valid registration secret is required as the bearer token').withChallenge(
    bearerOf(req) ? 'Bearer realm="gatehouse", error="invalid_token"' : 'Bearer realm="gatehouse"',
  );
}

function bearerOf(req: HttpRequest): string | undefined {
  return /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '')?.[1];
}

/** The resource server whose registration secret the request carries as its bearer token, looked up once per request. */
export function resourceFromBearer(req: HttpRequest, resources: ResourcesService): Promise<ResourceServerEntity | null> {
  const secret = bearerOf(req);
  if (!secret) return Promise.resolve(null);
  return memoForRequest(req, 'resource-bearer', () => resources.bySecret(secret));
}

/** The route is called by a resource server's backend with its registration secret. */
export function ResourceServerApi() {
  return applyDecorators(UseGuards(RegistrationSecretGuard));
}

/** The resource server the registration secret identified. */
export const CallingResource = createRequestParamDecorator((req: RequestWithResource): ResourceServerEntity => {
  const resource = req.resourceServer;
  if (!resource) throw new Error('CallingResource used without ResourceServerApi()');
  return resource;
});
