/**
 * What a GitHub sign-in asks GitHub's REST API beyond the profile, and only when the resource's sign-in policy
 * needs it: organisations and teams (scope `read:org`), verified emails (scope `user:email`). The API root is the
 * profile URL's (https://api.github.com, or https://ghe.example.com/api/v3 for GitHub Enterprise Server).
 */

export interface GithubDetails {
  /** Organisation logins; null when the sign-in did not ask for `read:org`. */
  organizations: string[] | null;
  /** Teams as `org/team-slug`. */
  teams: string[];
  /** The account's primary email, if GitHub verified it; null otherwise or when not asked. */
  verifiedEmail: string | null;
}

export class GithubApiError extends Error {}

const PER_PAGE = 100;
/** 1,000 organisations or teams is more than any policy needs; past that the list is cut rather than fetched on. */
const MAX_PAGES = 10;
const TIMEOUT_MS = 10_000;

/** `https://api.github.com/user` → `https://api.github.com`. */
export function githubApiRoot(userProfileUrl: string): string {
  return userProfileUrl.replace(/\/user\/?$/, '');
}

export async function fetchGithubDetails(apiRoot: string, accessToken: string, scopes: readonly string[]): Promise<GithubDetails> {
  const details: GithubDetails = { organizations: null, teams: [], verifiedEmail: null };
  if (scopes.includes('read:org')) {
    const [orgs, teams] = await Promise.all([list(apiRoot, '/user/orgs', accessToken), list(apiRoot, '/user/teams', accessToken)]);
    details.organizations = orgs.flatMap((org) => (typeof org.login === 'string' ? [org.login] : []));
    details.teams = teams.flatMap((team) => {
      const org = isRecord(team.organization) ? team.organization.login : undefined;
      return typeof team.slug === 'string' && typeof org === 'string' ? [`${org}/${team.slug}`] : [];
    });
  }
  if (scopes.includes('user:email')) {
    const emails = await list(apiRoot, '/user/emails', accessToken);
    const primary = emails.find((entry) => entry.primary === true && entry.verified === true && typeof entry.email === 'string');
    details.verifiedEmail = primary ? String(primary.email) : null;
  }
  return details;
}

/** Every page of a list endpoint, following GitHub's `Link: <…>; rel="next"` on the same origin only. */
async function list(apiRoot: string, path: string, accessToken: string): Promise<Array<Record<string, unknown>>> {
  const origin = new URL(apiRoot).origin;
  let url: string | null = `${apiRoot}${path}?per_page=${PER_PAGE}`;
  const items: Array<Record<string, unknown>> = [];
  for (let page = 0; url && page < MAX_PAGES; page++) {
    const response: Response = await fetch(url, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.github+json', 'user-agent': 'gatehouse' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).catch(() => {
      throw new GithubApiError(`GitHub ${path} could not be reached`);
    });
    if (!response.ok) throw new GithubApiError(`GitHub ${path} answered ${response.status}`);
    const body: unknown = await response.json().catch(() => null);
    if (!Array.isArray(body)) throw new GithubApiError(`GitHub ${path} did not answer a list`);
    items.push(...body.filter(isRecord));
    url = nextPage(response.headers.get('link'), origin);
  }
  return items;
}

function nextPage(link: string | null, origin: string): string | null {
  const next = link?.split(',').find((part) => /;\s*rel="next"/.test(part));
  const target = next ? /<([^>]+)>/.exec(next)?.[1] : undefined;
  if (!target) return null;
  try {
    return new URL(target).origin === origin ? target : null;
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
