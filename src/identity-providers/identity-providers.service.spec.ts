import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { encrypt } from '../common/crypto.js';
import { InvalidRequest } from '../common/oauth-errors.js';
import type { GatehouseConfig } from '../config/config.js';
import { EncryptionKeyMismatch } from '../config/secrets.js';
import type { Database } from '../database/database.module.js';
import type { RecordCache } from '../database/record-cache.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { IdentityProviderEntity } from './identity-provider.entity.js';
import type { IdentityProviderRepository } from './identity-provider.repository.js';
import { IdentityProvidersService } from './identity-providers.service.js';

/** A provider whose client secret was sealed with a key other than the one the service now holds. */
function sealedWithAnotherKey(): IdentityProviderEntity {
  return {
    id: 'corp',
    displayName: 'Corp',
    issuer: 'https://idp.example.com',
    clientId: 'gatehouse',
    clientSecretSealed: encrypt(randomBytes(32), 'upstream-secret', 'identity-provider:corp'),
    scopes: ['openid'],
    groupsClaim: null,
    createdAt: new Date(),
    updatedAt: new Date(),
  };
}

function service(provider: IdentityProviderEntity): IdentityProvidersService {
  const config = { issuer: 'https://auth.example.com', encryptionKey: randomBytes(32), dataDir: '/var/lib/gatehouse' } as GatehouseConfig;
  const repository = { findById: async (id: string) => (id === provider.id ? provider : null) } as unknown as IdentityProviderRepository;
  return new IdentityProvidersService(config, { encryptionKey: config.encryptionKey!, cookieKey: randomBytes(32) }, {} as Database, repository, {} as AuditLog, {} as RecordCache);
}

describe('IdentityProvidersService with a client secret sealed under another ENCRYPTION_KEY', () => {
  it('fails the sign-in discovery with a message naming ENCRYPTION_KEY, the provider and the way out', async () => {
    const provider = sealedWithAnotherKey();
    await assert.rejects(service(provider).configuration(provider), (error: unknown) => {
      assert.ok(error instanceof EncryptionKeyMismatch, String(error));
      assert.equal(
        error.message,
        'ENCRYPTION_KEY does not match the key the client secret of identity provider "corp" was sealed with: restore the previous key (see docs/operations.md, backup) or set the secret again (PATCH /admin/identity-providers/corp with client_secret)',
      );
      return true;
    });
  });

  it('answers an update that needs the stored secret with a 400 asking for client_secret', async () => {
    const provider = sealedWithAnotherKey();
    await assert.rejects(service(provider).update('corp', { issuer: 'https://other-idp.example.com' }), (error: unknown) => {
      assert.ok(error instanceof InvalidRequest, String(error));
      assert.match(error.description, /send client_secret with this change/);
      return true;
    });
  });
});
