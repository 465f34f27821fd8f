import { Inject, Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { contextOf, type RequestContext } from '../common/http.js';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import { Strategy, type Profile } from 'passport-github2';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig, type GithubConfig } from '../config/config.js';
import { GATEHOUSE_SECRETS, type Secrets } from '../config/secrets.js';
import { clearCookie, openCookieValue, readCookie, sealCookieValue, setCookie } from '../common/cookies.js';
import { randomToken, safeEqual } from '../common/crypto.js';
import { BrowserError } from '../common/oauth-errors.js';
import { Database } from '../database/database.module.js';
import { AuditLog } from '../audit/audit-log.js';
import { parsePurpose, SignInService, type SignInPurpose, type SignInResult } from './sign-in.service.js';
import { AuthorizationService } from './authorization.service.js';
import { githubScopesFor } from '../resources/sign-in-policy.js';
import { fetchGithubDetails, githubApiRoot } from './github-api.js';

const STATE_COOKIE = 'gatehouse_github_state';
export const GITHUB_CALLBACK_PATH = '/login/github/callback';
const STATE_TTL_SECONDS = 600;

interface StatePayload {
  state: string;
  purpose: SignInPurpose;
  /** The scopes asked of GitHub, which say what the callback may ask GitHub's API (see fetchGithubDetails). */
  scopes: string[];
  exp: number;
}

/** What the start and callback of one sign-in leave on the request for the next step. */
type GithubRequest = Request & { signInPurpose?: SignInPurpose; githubScopes?: string[] };

type Done = (error: Error | null, ok?: unknown, info?: unknown) => void;

/**
 * passport-oauth2 state store that keeps the state in a signed, HttpOnly cookie scoped to the callback path and
 * checks it in constant time, once. The state also carries what the sign-in is for (SignInPurpose).
 */
class CookieStateStore {
  constructor(
    private readonly key: Buffer,
    private readonly secure: boolean,
  ) {}

  store(req: Request, _meta: unknown, done: (error: Error | null, state?: string) => void): void {
    const state = randomToken();
    const purpose: SignInPurpose =
      req.params.id !== undefined ? { interactionId: String(req.params.id) } : req.path.startsWith('/console/') ? { console: true } : { account: true };
    const scopes = (req as GithubRequest).githubScopes ?? [];
    const payload: StatePayload = { state, purpose, scopes, exp: Math.floor(Date.now() / 1000) + STATE_TTL_SECONDS };
    setCookie(req.res!, STATE_COOKIE, sealCookieValue(this.key, 'github-state', payload), {
      secure: this.secure,
      maxAgeSeconds: STATE_TTL_SECONDS,
      path: GITHUB_CALLBACK_PATH,
    });
    done(null, state);
  }

  verify(req: Request, provided: string, _meta: unknown, done: Done): void {
    const payload = openCookieValue<StatePayload>(this.key, 'github-state', readCookie(req, STATE_COOKIE));
    clearCookie(req.res!, STATE_COOKIE, { secure: this.secure, path: GITHUB_CALLBACK_PATH });
    if (!payload || payload.exp < Date.now() / 1000 || typeof provided !== 'string' || !safeEqual(provided, payload.state)) {
      done(null, false, { message: 'state mismatch' });
      return;
    }
    const purpose = parsePurpose(payload.purpose);
    if (!purpose) {
      done(null, false, { message: 'state mismatch' });
      return;
    }
    (req as GithubRequest).signInPurpose = purpose;
    (req as GithubRequest).githubScopes = Array.isArray(payload.scopes) ? payload.scopes.filter((scope) => typeof scope === 'string') : [];
    done(null, true);
  }
}

/**
 * Sign-in with GitHub (or GitHub Enterprise Server, through the configurable endpoint URLs). Each app instance
 * registers its strategy under its own name, so several Gatehouse apps can share one process (tests, embedding).
 */
@Injectable()
export class GithubLogin {
  private readonly logger = new Logger('GithubLogin');
  readonly strategyName = `github-${randomUUID()}`;
  private readonly startGuard: CanActivate | null;
  private readonly callbackGuard: CanActivate | null;
  private readonly apiRoot: string | null;

  constructor(
    @Inject(GATEHOUSE_CONFIG) config: GatehouseConfig,
    @Inject(GATEHOUSE_SECRETS) secrets: Secrets,
    private readonly database: Database,
    private readonly signInService: SignInService,
    private readonly audit: AuditLog,
  ) {
    if (!config.github) {
      this.startGuard = this.callbackGuard = null;
      this.apiRoot = null;
      return;
    }
    this.apiRoot = githubApiRoot(config.github.userProfileUrl);
    this.createStrategy(config.github, `${config.issuer}${GITHUB_CALLBACK_PATH}`, new CookieStateStore(secrets.cookieKey, config.secureCookies));
    const Base = AuthGuard(this.strategyName);
    // Each sign-in asks GitHub for the scopes its resource's policy needs (GithubStartGuard puts them on the request).
    class StartGuard extends Base {
      override getAuthenticateOptions(context: ExecutionContext): { scope: string[] } {
        return { scope: context.switchToHttp().getRequest<GithubRequest>().githubScopes ?? [] };
      }
    }
    this.startGuard = new StartGuard();
    class CallbackGuard extends Base {
      override handleRequest<TUser>(error: unknown, user: TUser | false, info: unknown): TUser {
        if (error) {
          throw new BrowserError(502, 'GitHub sign-in failed', 'GitHub could not be reached or refused the sign-in. Return to the application and try again.');
        }
        if (!user) {
          const cancelled = typeof info === 'object' && info !== null && 'message' in info && String((info as { message: unknown }).message) !== 'state mismatch';
          throw new BrowserError(
            cancelled ? 400 : 403,
            cancelled ? 'Sign-in cancelled' : 'Sign-in not accepted',
            cancelled
              ? 'Sign-in with GitHub was cancelled. Return to the application and try again.'
              : 'This sign-in did not start in this browser, or took too long. Return to the application and try again.',
          );
        }
        return user;
      }
    }
    this.callbackGuard = new CallbackGuard();
  }

  get configured(): boolean {
    return this.startGuard !== null;
  }

  startGuardFor(): CanActivate {
    if (!this.startGuard) throw notConfigured();
    return this.startGuard;
  }

  callbackGuardFor(): CanActivate {
    if (!this.callbackGuard) throw notConfigured();
    return this.callbackGuard;
  }

  private createStrategy(github: GithubConfig, callbackURL: string, store: CookieStateStore): void {
    const login = this;
    class GithubStrategy extends PassportStrategy(Strategy, this.strategyName) {
      constructor() {
        super({
          clientID: github.clientId,
          clientSecret: github.clientSecret,
          callbackURL,
          authorizationURL: github.authorizationUrl,
          tokenURL: github.tokenUrl,
          userProfileURL: github.userProfileUrl,
          scope: [],
          store,
          passReqToCallback: true,
        } as unknown as ConstructorParameters<typeof Strategy>[0]);
      }

      async validate(req: Request, accessToken: string, _refreshToken: string, profile: Profile): Promise<SignInResult> {
        return login.signIn(req, accessToken, profile);
      }
    }
    new GithubStrategy();
  }

  /** The GitHub account's numeric id is the stable key; the login name can change and is only kept for display. */
  private async signIn(req: Request, accessToken: string, profile: Profile): Promise<SignInResult> {
    const { signInPurpose: purpose, githubScopes: scopes = [] } = req as GithubRequest;
    if (!purpose) throw new Error('GitHub sign-in without a verified state');
    if (!profile.id) throw new Error('GitHub profile has no id');
    // Organisations, teams and verified emails, only when the policy asked GitHub for them. A failure here fails
    // the sign-in (the callback guard's provider error page): the policy cannot be checked without them.
    const details = await fetchGithubDetails(this.apiRoot!, accessToken, scopes);
    const result = await this.signInService.complete(
      {
        provider: 'github',
        subject: String(profile.id),
        login: profile.username ?? null,
        name: profile.displayName || null,
        // A public profile email is not known to be verified; only GitHub's /user/emails says so.
        email: details.verifiedEmail,
        emailVerified: details.verifiedEmail !== null,
        groups: details.teams,
        organizations: details.organizations,
      },
      purpose,
      contextOf(req),
    );
    if (result.kind === 'signed-in') this.logger.debug({ msg: 'github sign-in', user_id: result.userId });
    return result;
  }

  /** `login.failed`: the callback was refused (state), cancelled at GitHub, or GitHub failed (by the page's status). */
  async recordFailure(error: BrowserError, request: RequestContext | undefined): Promise<void> {
    const reason = error.status === 403 ? 'state_mismatch' : error.status === 400 ? 'cancelled' : 'provider_error';
    // The person still gets the error page if the event cannot be written; the failure to record it is logged.
    await this.database
      .transaction((tx) => this.audit.record(tx, { type: 'login.failed', request, data: { provider: 'github', reason } }))
      .catch((failure: unknown) => this.logger.warn({ msg: 'login.failed not recorded' }, failure));
  }
}

function notConfigured(): BrowserError {
  return new BrowserError(503, 'GitHub sign-in is not configured', 'Set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET on the server to enable sign-in with GitHub.');
}

/**
 * Starts GitHub sign-in for an interaction this browser owns, if the resource's sign-in policy allows GitHub, asking
 * GitHub for the scopes the policy needs.
 */
@Injectable()
export class GithubStartGuard implements CanActivate {
  constructor(
    private readonly github: GithubLogin,
    private readonly authorization: AuthorizationService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<GithubRequest>();
    const guard = this.github.startGuardFor();
    const interaction = await this.authorization.loadBound(String(req.params.id ?? ''), req);
    const resource = await this.authorization.resourceForSignIn(interaction, 'github', 'GitHub');
    req.githubScopes = githubScopesFor(resource.signIn);
    return (await guard.canActivate(context)) as boolean;
  }
}

/** Finishes GitHub sign-in: state checked, code exchanged, profile fetched, user recorded. */
@Injectable()
export class GithubCallbackGuard implements CanActivate {
  constructor(private readonly github: GithubLogin) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const guard = this.github.callbackGuardFor();
    try {
      return (await guard.canActivate(context)) as boolean;
    } catch (error) {
      if (error instanceof BrowserError) await this.github.recordFailure(error, contextOf(context.switchToHttp().getRequest<Request>()));
      throw error;
    }
  }
}
