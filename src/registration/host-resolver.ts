import { DynamicModule, Global, Module } from '@nestjs/common';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address a host name resolves to. The metadata fetcher vets them all, then connects only to those. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const HOST_RESOLVER = Symbol('HOST_RESOLVER');

/** The operating system's resolver (`dns.lookup`, so /etc/hosts counts, as it would for any connection). */
export const systemHostResolver: HostResolver = async (hostname) => {
  const answers = await lookup(hostname, { all: true });
  return answers.map(({ address }) => ({ address, family: isIP(address) === 6 ? 6 : 4 }));
};

/**
 * Provides the resolver the metadata fetcher uses. Global, so that the application (and only it) chooses: the
 * system resolver in production; tests hand in a fake one so that DNS answers such as "10.0.0.1" need no real DNS.
 */
@Global()
@Module({})
export class HostResolverModule {
  static forRoot(resolver: HostResolver = systemHostResolver): DynamicModule {
    return {
      module: HostResolverModule,
      providers: [{ provide: HOST_RESOLVER, useValue: resolver }],
      exports: [HOST_RESOLVER],
    };
  }
}
