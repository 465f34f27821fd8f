import { applyDecorators, createParamDecorator, Injectable, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { InvalidToken } from '../common/oauth-errors.js';
import { memoForRequest } from '../common/request-memo.js';
import type { HttpRequest } from '../common/http.js';
import { ResourcesService } from './resources.service.js';
import type { ResourceServerEntity } from './resource-server.entity.js';

type RequestWithResource = Request & { resourceServer?: ResourceServerEntity };

/** Server-to-server calls from a product backend: `Authorization: Bearer <registration secret>` names the resource. */
@Injectable()
export class RegistrationSecretGuard implements CanActivate {
  constructor(private readonly resources: ResourcesService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<RequestWithResource>();
    req.resourceServer = await callingResource(req, this.resources);
    return true;
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
export const CallingResource = createParamDecorator((_: unknown, context: ExecutionContext): ResourceServerEntity => {
  const resource = context.switchToHttp().getRequest<RequestWithResource>().resourceServer;
  if (!resource) throw new Error('CallingResource used without ResourceServerApi()');
  return resource;
});
