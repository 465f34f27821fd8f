import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ResourcesService } from './resources.service.js';
import { admitsEveryone } from './sign-in-policy.js';
import type { ResourceServerEntity } from './resource-server.entity.js';

/** The resource servers whose own sign-in admits everyone a provider vouches for (a product's login decides for itself). */
export function openToEveryone(resources: readonly ResourceServerEntity[]): ResourceServerEntity[] {
  return resources.filter((resource) => resource.loginMethod === 'gatehouse' && admitsEveryone(resource.signIn));
}

/**
 * At every boot, a warning for each resource server whose sign-in policy admits everyone a provider vouches for
 * (with GitHub: anyone with a GitHub account). Resource servers that existed before policies have that policy.
 */
@Injectable()
export class SignInPolicyWarnings implements OnApplicationBootstrap {
  private readonly logger = new Logger('SignInPolicy');
  /** The names of the resource servers open to everyone, for the boot summary. */
  openResources: string[] = [];

  constructor(private readonly resources: ResourcesService) {}

  async onApplicationBootstrap(): Promise<void> {
    const open = openToEveryone(await this.resources.list());
    this.openResources = open.map((resource) => resource.name);
    for (const resource of open) {
      this.logger.warn({
        msg: 'sign-in policy admits everyone',
        resource: resource.resource,
        resource_id: resource.id,
        hint: 'anyone the allowed providers vouch for (any GitHub account) can get tokens; set sign_in on this resource server',
      });
    }
  }
}
