import { Module } from '@nestjs/common';
import { RegistrationModule } from '../registration/registration.module.js';
import { ResourcesModule } from '../resources/resources.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { CallerAuthenticator } from './caller-authenticator.js';
import { IntrospectionController } from './introspection.controller.js';
import { ProvenCallers } from './rate-limit-callers.js';
import { TokenInspector } from './token-inspector.js';

/** Introspection (RFC 7662) and revocation (RFC 7009). */
@Module({
  imports: [RegistrationModule, ResourcesModule, TokensModule],
  controllers: [IntrospectionController],
  providers: [CallerAuthenticator, TokenInspector, ProvenCallers],
  exports: [CallerAuthenticator, ProvenCallers],
})
export class IntrospectionModule {}
