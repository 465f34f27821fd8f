import { ResourceServerEntity } from './resources/resource-server.entity.js';
import { ClientEntity } from './registration/client.entity.js';
import { InitialAccessTokenEntity } from './registration/initial-access-token.entity.js';
import { UserEntity, UserIdentityEntity } from './authorization/user.entity.js';
import { ConsentEntity } from './authorization/consent.entity.js';
import { InteractionEntity } from './authorization/interaction.entity.js';
import { AuthorizationCodeEntity } from './authorization/authorization-code.entity.js';
import { GrantEntity, RefreshTokenEntity } from './tokens/grant.entity.js';
import { ClientCredentialsGrantEntity } from './tokens/client-credentials-grant.entity.js';
import { SigningKeyEntity } from './keys/signing-key.entity.js';
import { AuditEventEntity } from './audit/audit-event.entity.js';
import { IdentityProviderEntity } from './identity-providers/identity-provider.entity.js';
import { ConsoleOperatorEntity } from './console/console-operator.entity.js';
import type { EntityClasses } from './database/data-source.js';

/** Every table's entity, for the data source: the database layer knows no feature module, so the application does. */
export const ENTITIES: EntityClasses = [
  ResourceServerEntity,
  ClientEntity,
  InitialAccessTokenEntity,
  UserEntity,
  UserIdentityEntity,
  ConsentEntity,
  InteractionEntity,
  AuthorizationCodeEntity,
  GrantEntity,
  RefreshTokenEntity,
  ClientCredentialsGrantEntity,
  SigningKeyEntity,
  AuditEventEntity,
  IdentityProviderEntity,
  ConsoleOperatorEntity,
];
