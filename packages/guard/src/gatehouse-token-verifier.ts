import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_GUARD_OPTIONS, type GatehouseGuardOptions } from './guard.options.js';
import { AccessTokenVerifier } from './token-verifier.js';

/** The framework-free verifier as a Nest provider, built from the module's options. */
@Injectable()
export class GatehouseTokenVerifier extends AccessTokenVerifier {
  constructor(@Inject(GATEHOUSE_GUARD_OPTIONS) options: GatehouseGuardOptions) {
    super(options);
  }
}
