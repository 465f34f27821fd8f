import { Body, Controller, HttpCode, Post, UsePipes } from '@nestjs/common';
import { JsonOnly, NoStore } from '../common/oauth-body.decorator.js';
import { strictValidationPipe } from '../common/validation.js';
import { CallingResource, ResourceServerApi } from '../resources/registration-secret.guard.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { CompleteConsentDto, CompleteLoginDto } from './dto/complete.dto.js';
import { ProductCompletionService } from './product-completion.service.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { FastPath } from '../common/fast-path.decorator.js';
import type { RequestContext } from '../common/http.js';
import { InRequest } from '../common/request-context.middleware.js';

/** Server-to-server calls from a product backend, authenticated by the resource server's registration secret. */
@Controller('api')
@RateLimit('login_complete')
@NoStore()
export class ProductCompletionController {
  constructor(private readonly completion: ProductCompletionService) {}

  /** The product's login page signed its user in: continue the authorization (consent, then the code). */
  @Post('login/complete')
  @HttpCode(200)
  @ResourceServerApi()
  @JsonOnly()
  @UsePipes(strictValidationPipe)
  @FastPath()
  completeLogin(@CallingResource() resource: ResourceServerEntity, @Body() body: CompleteLoginDto, @InRequest() request?: RequestContext): Promise<{ redirect_uri: string }> {
    return this.completion.completeLogin(resource, body, request);
  }

  /** The product's consent page has the user's decision: the answer is the client redirect (code or access_denied). */
  @Post('consent/complete')
  @HttpCode(200)
  @ResourceServerApi()
  @JsonOnly()
  @UsePipes(strictValidationPipe)
  @FastPath()
  completeConsent(@CallingResource() resource: ResourceServerEntity, @Body() body: CompleteConsentDto, @InRequest() request?: RequestContext): Promise<{ redirect_uri: string }> {
    return this.completion.completeConsent(resource, body, request);
  }
}
