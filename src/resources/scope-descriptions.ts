import { isStorableText } from '../common/validation.js';

/**
 * What each of a resource server's scopes lets an application do, in words the consent and account pages show
 * beside the scope code (`docs:read` → "Read your documents"). Pure: the resources module validates the map with it.
 */
export type ScopeDescriptions = Record<string, string>;

export class InvalidScopeDescriptions extends Error {}

export const MAX_SCOPE_DESCRIPTION_LENGTH = 200;

/**
 * Characters that have no place in one line of text on a page: C0 and C1 controls, line and paragraph separators,
 * and the bidirectional embeddings, overrides and isolates, which can make shown text read differently from what it is.
 */
const UNSHOWABLE = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;

/**
 * A description map as the admin API sent it, checked against the resource's `scopes` and normalised: values
 * trimmed, keys in the order of `scopes`. InvalidScopeDescriptions says what is wrong, naming the field.
 */
export function parseScopeDescriptions(value: unknown, scopes: readonly string[]): ScopeDescriptions {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidScopeDescriptions('scope_descriptions must be an object mapping scopes to descriptions ({"docs:read": "Read your documents"})');
  }
  const given = value as Record<string, unknown>;
  const unknown = Object.keys(given).filter((key) => !scopes.includes(key));
  if (unknown.length) throw new InvalidScopeDescriptions(`scope_descriptions: not in scopes: ${unknown.map((key) => JSON.stringify(key)).join(', ')}`);
  const descriptions: ScopeDescriptions = {};
  for (const scope of scopes) {
    if (!Object.hasOwn(given, scope)) continue;
    const description = given[scope];
    if (typeof description !== 'string') throw new InvalidScopeDescriptions(`scope_descriptions.${scope} must be a string`);
    const text = description.trim();
    if (text.length === 0 || text.length > MAX_SCOPE_DESCRIPTION_LENGTH) {
      throw new InvalidScopeDescriptions(`scope_descriptions.${scope} must be 1 to ${MAX_SCOPE_DESCRIPTION_LENGTH} characters`);
    }
    if (UNSHOWABLE.test(text) || !isStorableText(text)) throw new InvalidScopeDescriptions(`scope_descriptions.${scope} must not contain control, line-break or bidirectional formatting characters, or unpaired surrogates`);
    descriptions[scope] = text;
  }
  return descriptions;
}

/** The descriptions of the scopes still in `scopes`: what a resource keeps when scopes are removed from it. */
export function keepDescribed(descriptions: ScopeDescriptions, scopes: readonly string[]): ScopeDescriptions {
  return Object.fromEntries(scopes.filter((scope) => Object.hasOwn(descriptions, scope)).map((scope) => [scope, descriptions[scope]!]));
}
