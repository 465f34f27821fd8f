import * as oidc from 'openid-client';
import { isLoopbackHost } from '../common/urls.js';

/** Seconds to wait for a provider's discovery, token, JWKS or userinfo response. */
const PROVIDER_TIMEOUT_SECONDS = 10;

export interface ProviderCredentials {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/**
 * The provider's metadata (`<issuer>/.well-known/openid-configuration`, its `issuer` checked against ours) and our
 * client at it. Plain http is allowed only for a loopback issuer (local development and tests), never elsewhere.
 */
export async function discoverProvider(credentials: ProviderCredentials): Promise<oidc.Configuration> {
  const issuer = new URL(credentials.issuer);
  const execute = issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname) ? [oidc.allowInsecureRequests] : [];
  const discovered = await oidc.discovery(issuer, credentials.clientId, undefined, oidc.ClientSecretBasic(credentials.clientSecret), {
    execute,
    timeout: PROVIDER_TIMEOUT_SECONDS,
  });
  // client_secret_basic is the default (OIDC Discovery §3); a provider that lists only client_secret_post gets that.
  const methods = discovered.serverMetadata().token_endpoint_auth_methods_supported;
  if (!methods || methods.includes('client_secret_basic') || !methods.includes('client_secret_post')) return discovered;
  const configuration = new oidc.Configuration(discovered.serverMetadata(), credentials.clientId, undefined, oidc.ClientSecretPost(credentials.clientSecret));
  configuration.timeout = PROVIDER_TIMEOUT_SECONDS;
  for (const extension of execute) extension(configuration);
  return configuration;
}

/** A discovery failure as an administrator can act on it; never the secret. */
export function describeDiscoveryFailure(error: unknown): string {
  if (error instanceof oidc.ClientError || error instanceof oidc.ResponseBodyError) return error.message;
  if (error instanceof Error && error.name === 'TimeoutError') return 'the issuer did not answer in time';
  if (error instanceof TypeError) return `the issuer could not be reached (${error.cause instanceof Error ? error.cause.message : error.message})`;
  return error instanceof Error ? error.message : 'unknown error';
}
