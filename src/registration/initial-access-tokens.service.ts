import { Inject, Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/http.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { randomToken, sha256 } from '../common/crypto.js';
import { InvalidToken, NotFound } from '../common/oauth-errors.js';
import { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import { AuditLog } from '../audit/audit-log.js';
import { isUuid } from '../resources/resources.service.js';
import { InitialAccessTokenRepository } from './initial-access-token.repository.js';
import type { InitialAccessTokenEntity } from './initial-access-token.entity.js';
import type { CreateInitialAccessTokenDto, InitialAccessTokenView } from './dto/initial-access-token.dto.js';

export const INITIAL_ACCESS_TOKEN_PREFIX = 'gh_iat_';

/** An initial access token a registration request presented, checked but not yet used (see `consume`). */
export interface PresentedInitialAccessToken {
  id: string;
  tokenHash: string;
}

/**
 * Initial access tokens (RFC 7591 §3): created by an administrator, shown once, stored as SHA-256 and found by that
 * hash. With DCR_REQUIRE_INITIAL_ACCESS_TOKEN, POST /register needs one; without it, one may still be presented
 * (and must then be valid), so a deployment can move to requiring them without breaking anyone who already sends one.
 */
@Injectable()
export class InitialAccessTokens {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly database: Database,
    private readonly repository: InitialAccessTokenRepository,
    private readonly audit: AuditLog,
  ) {}

  async create(input: CreateInitialAccessTokenDto, request?: RequestContext): Promise<{ token: InitialAccessTokenEntity; secret: string }> {
    const secret = INITIAL_ACCESS_TOKEN_PREFIX + randomToken();
    const token = await this.database.transaction(async (tx) => {
      const created = await this.repository.insert(tx, {
        tokenHash: sha256(secret),
        description: input.description ?? null,
        maxRegistrations: input.max_registrations ?? null,
        expiresAt: input.expires_in === undefined ? null : new Date(Date.now() + input.expires_in * 1000),
      });
      await this.audit.record(tx, {
        type: 'admin.initial_access_token_created',
        data: {
          initial_access_token_id: created.id,
          max_registrations: created.maxRegistrations,
          expires_at: created.expiresAt?.toISOString() ?? null,
        },
        request,
      });
      return created;
    });
    return { token, secret };
  }

  list(): Promise<InitialAccessTokenEntity[]> {
    return this.repository.list();
  }

  /** Revokes a token; clients it registered stay. Revoking a revoked token changes nothing and records nothing. */
  async revoke(id: string, request?: RequestContext): Promise<InitialAccessTokenEntity> {
    return this.database.transaction(async (tx) => {
      if (!isUuid(id) || !(await this.repository.findById(id, tx))) throw new NotFound(`no initial access token with id ${id}`);
      if (await this.repository.revoke(tx, id)) {
        await this.audit.record(tx, { type: 'admin.initial_access_token_revoked', data: { initial_access_token_id: id }, request });
      }
      return (await this.repository.findById(id, tx))!;
    });
  }

  /**
   * The token a registration request presents in `Authorization: Bearer`, checked before anything else is looked
   * at: null when none is presented and none is required; 401 invalid_token when one is required but missing, or
   * presented but not usable (unknown, revoked, expired, used up).
   */
  async presented(authorization: string | undefined): Promise<PresentedInitialAccessToken | null> {
    const token = /^Bearer ([^\s]+)$/i.exec(authorization ?? '')?.[1];
    if (!token) {
      if (!this.config.registration.requireInitialAccessToken) return null;
      throw new InvalidToken('an initial access token is required to register a client: send Authorization: Bearer <initial access token>').withChallenge('Bearer');
    }
    const tokenHash = sha256(token);
    const id = await this.repository.findUsable(tokenHash);
    if (!id) throw unusable();
    return { id, tokenHash };
  }

  /** Uses one registration of a presented token inside the registration's transaction (rolled back with it). */
  async consume(tx: Tx, presented: PresentedInitialAccessToken): Promise<string> {
    const id = await this.repository.consume(tx, presented.tokenHash);
    // Usable a moment ago; revoked, expired or used up by a concurrent registration since.
    if (!id) throw unusable();
    return id;
  }
}

function unusable(): InvalidToken {
  return new InvalidToken('the initial access token is unknown, revoked, expired or used up').withChallenge('Bearer error="invalid_token"');
}

export function toInitialAccessTokenView(token: InitialAccessTokenEntity, now = Date.now()): InitialAccessTokenView {
  const status: InitialAccessTokenView['status'] = token.revokedAt
    ? 'revoked'
    : token.expiresAt && token.expiresAt.getTime() <= now
      ? 'expired'
      : token.maxRegistrations !== null && token.registrations >= token.maxRegistrations
        ? 'used_up'
        : 'active';
  return {
    id: token.id,
    description: token.description,
    max_registrations: token.maxRegistrations,
    registrations: token.registrations,
    status,
    expires_at: token.expiresAt?.toISOString() ?? null,
    created_at: token.createdAt.toISOString(),
    revoked_at: token.revokedAt?.toISOString() ?? null,
  };
}
