import type { MigrationInterface } from 'typeorm';
import { InitialSchema1795312800000 } from './1795312800000-InitialSchema.js';
import { RevokedAccessTokens1795316400000 } from './1795316400000-RevokedAccessTokens.js';
import { ClientMetadataDocuments1795320000000 } from './1795320000000-ClientMetadataDocuments.js';
import { ExternalLoginAndConsent1795323600000 } from './1795323600000-ExternalLoginAndConsent.js';
import { AuditDelivery1795327200000 } from './1795327200000-AuditDelivery.js';
import { ClientHygiene1795330800000 } from './1795330800000-ClientHygiene.js';
import { LoginReturn1795334400000 } from './1795334400000-LoginReturn.js';
import { MetadataDocumentClientHygiene1795338000000 } from './1795338000000-MetadataDocumentClientHygiene.js';
import { RefreshRetries1795341600000 } from './1795341600000-RefreshRetries.js';
import { SignInIdentities1795345200000 } from './1795345200000-SignInIdentities.js';
import { IdentityProviders1795345300000 } from './1795345300000-IdentityProviders.js';
import { ManagedUsersAndTokenIdentity1795345400000 } from './1795345400000-ManagedUsersAndTokenIdentity.js';
import { SignInPolicy1795345500000 } from './1795345500000-SignInPolicy.js';
import { ScopeDescriptions1795345600000 } from './1795345600000-ScopeDescriptions.js';
import { ConsoleOperators1795345700000 } from './1795345700000-ConsoleOperators.js';
import { RegistrationSecretOverlap1795345800000 } from './1795345800000-RegistrationSecretOverlap.js';
import { ClientTypeAndSecretExpiry1795346000000 } from './1795346000000-ClientTypeAndSecretExpiry.js';
import { ClientCredentialsGrants1795346200000 } from './1795346200000-ClientCredentialsGrants.js';
import { ClientAssertionJtis1795346300000 } from './1795346300000-ClientAssertionJtis.js';
import { Dpop1795346400000 } from './1795346400000-Dpop.js';
import { DpopBoundCodes1795346500000 } from './1795346500000-DpopBoundCodes.js';

/** Every migration, oldest first. The runner applies the ones a database has not seen, in this order. */
export const MIGRATIONS: ReadonlyArray<new () => MigrationInterface> = [
  InitialSchema1795312800000,
  RevokedAccessTokens1795316400000,
  ClientMetadataDocuments1795320000000,
  ExternalLoginAndConsent1795323600000,
  AuditDelivery1795327200000,
  ClientHygiene1795330800000,
  LoginReturn1795334400000,
  MetadataDocumentClientHygiene1795338000000,
  RefreshRetries1795341600000,
  SignInIdentities1795345200000,
  IdentityProviders1795345300000,
  ManagedUsersAndTokenIdentity1795345400000,
  SignInPolicy1795345500000,
  ScopeDescriptions1795345600000,
  ConsoleOperators1795345700000,
  RegistrationSecretOverlap1795345800000,
  ClientTypeAndSecretExpiry1795346000000,
  ClientCredentialsGrants1795346200000,
  ClientAssertionJtis1795346300000,
  Dpop1795346400000,
  DpopBoundCodes1795346500000,
];
