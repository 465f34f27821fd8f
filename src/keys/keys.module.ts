import { Module } from '@nestjs/common';
import { AdminKeysController } from './admin-keys.controller.js';
import { JwksController } from './jwks.controller.js';
import { KeyService } from './key.service.js';
import { KeysHousekeeping } from './keys-housekeeping.js';
import { SigningKeyRepository } from './signing-key.repository.js';

@Module({
  controllers: [JwksController, AdminKeysController],
  providers: [KeyService, SigningKeyRepository, KeysHousekeeping],
  exports: [KeyService],
})
export class KeysModule {}
