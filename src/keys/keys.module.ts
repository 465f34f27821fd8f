import { Module } from '@nestjs/common';
import { JwksController } from './jwks.controller.js';
import { KeyService } from './key.service.js';
import { SigningKeyRepository } from './signing-key.repository.js';

@Module({
  controllers: [JwksController],
  providers: [KeyService, SigningKeyRepository],
  exports: [KeyService],
})
export class KeysModule {}
