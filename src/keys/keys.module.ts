import { Module } from '@nestjs/common';
import { AdminKeysController } from './admin-keys.controller.js';
import { JwksController } from './jwks.controller.js';
import { KeyService } from './key.service.js';
import { SigningKeyRepository } from './signing-key.repository.js';

@Module({
  controllers: [JwksController, AdminKeysController],
  providers: [KeyService, SigningKeyRepository],
  exports: [KeyService],
})
export class KeysModule {}
