import { SetMetadata } from '@nestjs/common';

export const FAST_PATH = 'gatehouse:fast-path';

export interface FastPathOptions {
  /**
   * The handler takes no parameters and returns the same object until its content changes (a cached document),
   * often without waiting: the fast lane then keeps that object's bytes and headers and answers from them.
   */
  readonly document?: boolean;
}

/**
 * Serves this route from node:http in front of Express and Nest (src/fast-lane/fast-lane.ts), with what its
 * decorators say: the route, @HttpCode, @Header, @RateLimit, the parameters, and the guards and interceptors that are
 * BeforeHandler steps (src/common/request-steps.ts). The application refuses to start when the route carries anything
 * else the fast lane cannot do as Nest would (src/fast-lane/fast-route-explorer.ts).
 */
export const FastPath = (options: FastPathOptions = {}): MethodDecorator => SetMetadata(FAST_PATH, options);
