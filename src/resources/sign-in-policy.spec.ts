import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { evaluate, githubScopesFor, InvalidSignInPolicy, parseSignInPolicy, type PolicySubject, type SignInPolicy } from './sign-in-policy.js';

function github(overrides: Partial<PolicySubject> = {}): PolicySubject {
  return { provider: 'github', login: 'Octocat', email: null, emailVerified: false, groups: [], organizations: null, ...overrides };
}

function oidc(overrides: Partial<PolicySubject> = {}): PolicySubject {
  return { provider: 'oidc:okta', login: 'jane', email: 'jane@acme.com', emailVerified: true, groups: ['mcp-users'], organizations: null, ...overrides };
}

function policy(allow: SignInPolicy['allow'], providers: string[] | null = null): SignInPolicy {
  return parseSignInPolicy({ providers, allow });
}

describe('evaluate', () => {
  it('admits anyone under everyone, and nobody under an empty allow', () => {
    assert.deepEqual(evaluate(policy('everyone'), github()), { allowed: true });
    assert.deepEqual(evaluate(policy({}), github()), { allowed: false, reason: 'no_rules' });
    assert.deepEqual(evaluate(policy({ github_users: [] }), github()), { allowed: false, reason: 'no_rules' });
  });

  it('refuses a provider the policy does not list, even under everyone', () => {
    assert.deepEqual(evaluate(policy('everyone', ['oidc:okta']), github()), { allowed: false, reason: 'provider_not_allowed' });
    assert.deepEqual(evaluate(policy('everyone', ['oidc:okta']), oidc()), { allowed: true });
  });

  it('matches GitHub users case-insensitively, and only GitHub identities', () => {
    const byUser = policy({ github_users: ['OCTOCAT'] });
    assert.deepEqual(evaluate(byUser, github()), { allowed: true });
    assert.deepEqual(evaluate(byUser, github({ login: 'hubot' })), { allowed: false, reason: 'no_rule_matched' });
    assert.deepEqual(evaluate(byUser, oidc({ login: 'octocat' })), { allowed: false, reason: 'no_rule_matched' });
  });

  it('matches GitHub organisations case-insensitively, and not when GitHub was not asked (null)', () => {
    const byOrg = policy({ github_organizations: ['Acme'] });
    assert.deepEqual(evaluate(byOrg, github({ organizations: ['other', 'ACME'] })), { allowed: true });
    assert.deepEqual(evaluate(byOrg, github({ organizations: ['other'] })), { allowed: false, reason: 'no_rule_matched' });
    assert.deepEqual(evaluate(byOrg, github({ organizations: null })), { allowed: false, reason: 'no_rule_matched' });
  });

  it('matches GitHub teams as org/team-slug', () => {
    const byTeam = policy({ github_teams: ['acme/Platform'] });
    assert.deepEqual(evaluate(byTeam, github({ groups: ['ACME/platform'] })), { allowed: true });
    assert.deepEqual(evaluate(byTeam, github({ groups: ['acme/sales'], organizations: ['acme'] })), { allowed: false, reason: 'no_rule_matched' });
    assert.deepEqual(evaluate(byTeam, oidc({ groups: ['acme/platform'] })), { allowed: false, reason: 'no_rule_matched' }, 'OIDC groups are not GitHub teams');
  });

  it('matches only verified emails, by exact domain unless the rule says *.', () => {
    const byDomain = policy({ email_domains: ['ACME.com'] });
    assert.deepEqual(evaluate(byDomain, oidc({ email: 'jane@Acme.COM' })), { allowed: true });
    assert.deepEqual(evaluate(byDomain, github({ email: 'octo@acme.com', emailVerified: true })), { allowed: true });
    assert.deepEqual(evaluate(byDomain, oidc({ emailVerified: false })), { allowed: false, reason: 'no_rule_matched' });
    assert.deepEqual(evaluate(byDomain, oidc({ email: 'jane@eu.acme.com' })), { allowed: false, reason: 'no_rule_matched' });
    assert.deepEqual(evaluate(byDomain, oidc({ email: 'jane@notacme.com' })), { allowed: false, reason: 'no_rule_matched' });
    assert.deepEqual(evaluate(byDomain, oidc({ email: null })), { allowed: false, reason: 'no_rule_matched' });
    const subdomains = policy({ email_domains: ['*.acme.com'] });
    assert.deepEqual(evaluate(subdomains, oidc({ email: 'jane@eu.acme.com' })), { allowed: true });
    assert.deepEqual(evaluate(subdomains, oidc({ email: 'jane@acme.com' })), { allowed: false, reason: 'no_rule_matched' });
    assert.deepEqual(evaluate(subdomains, oidc({ email: 'jane@evilacme.com' })), { allowed: false, reason: 'no_rule_matched' });
  });

  it('matches OIDC groups exactly, and only from OIDC providers', () => {
    const byGroup = policy({ oidc_groups: ['mcp-users'] });
    assert.deepEqual(evaluate(byGroup, oidc()), { allowed: true });
    assert.deepEqual(evaluate(byGroup, oidc({ groups: ['MCP-users'] })), { allowed: false, reason: 'no_rule_matched' });
    assert.deepEqual(evaluate(byGroup, github({ groups: ['mcp-users'] })), { allowed: false, reason: 'no_rule_matched' });
  });

  it('admits development sign-in names only under everyone, and only when the providers allow dev', () => {
    const dev: PolicySubject = { provider: 'dev', login: 'alice', email: null, emailVerified: false, groups: [], organizations: null };
    assert.deepEqual(evaluate(policy('everyone'), dev), { allowed: true });
    assert.deepEqual(evaluate(policy('everyone', ['dev']), dev), { allowed: true });
    assert.deepEqual(evaluate(policy('everyone', ['github']), dev), { allowed: false, reason: 'provider_not_allowed' });
    assert.deepEqual(evaluate(policy({ github_users: ['alice'], oidc_groups: ['alice'] }), dev), { allowed: false, reason: 'no_rule_matched' });
  });

  it('admits a person when any one rule matches', () => {
    const either = policy({ github_users: ['someone-else'], oidc_groups: ['admins'], email_domains: ['acme.com'] });
    assert.deepEqual(evaluate(either, oidc({ groups: [] })), { allowed: true });
  });
});

describe('parseSignInPolicy', () => {
  it('normalises GitHub names and domains to lower case, drops duplicates, and defaults providers to null', () => {
    assert.deepEqual(parseSignInPolicy({ allow: { github_organizations: ['Acme', 'acme'], email_domains: ['Acme.COM'], oidc_groups: ['Admins'] } }), {
      providers: null,
      allow: { github_organizations: ['acme'], email_domains: ['acme.com'], oidc_groups: ['Admins'] },
    });
    assert.deepEqual(parseSignInPolicy({ providers: ['github', 'oidc:okta', 'github'], allow: 'everyone' }), { providers: ['github', 'oidc:okta'], allow: 'everyone' });
    assert.deepEqual(parseSignInPolicy({ providers: ['dev'], allow: 'everyone' }), { providers: ['dev'], allow: 'everyone' });
  });

  it('refuses what it does not understand, saying what', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /must be an object/],
      [{ allow: 'everyone', extra: 1 }, /unknown keys: extra/],
      [{ providers: [], allow: 'everyone' }, /non-empty list/],
      [{ providers: ['gitlab'], allow: 'everyone' }, /"gitlab" is not a provider/],
      [{ providers: 'github', allow: 'everyone' }, /providers must be null/],
      [{ allow: 'anyone' }, /allow must be "everyone" or an object/],
      [{}, /allow must be/],
      [{ allow: { github_orgs: ['acme'] } }, /unknown rules: github_orgs/],
      [{ allow: { github_teams: ['platform'] } }, /"platform" is not one of GitHub teams/],
      [{ allow: { github_users: ['-bad'] } }, /"-bad" is not one of GitHub logins/],
      [{ allow: { email_domains: ['user@acme.com'] } }, /is not one of email domains/],
      [{ allow: { email_domains: ['*'] } }, /is not one of email domains/],
      [{ allow: { oidc_groups: [''] } }, /is not one of group names/],
      [{ allow: { oidc_groups: 'admins' } }, /must be a list/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => parseSignInPolicy(input), (error: unknown) => error instanceof InvalidSignInPolicy && message.test(error.message), JSON.stringify(input));
    }
  });
});

describe('githubScopesFor', () => {
  it('asks for read:org only for organisation and team rules, user:email only for email-domain rules', () => {
    assert.deepEqual(githubScopesFor(policy('everyone')), []);
    assert.deepEqual(githubScopesFor(policy({})), []);
    assert.deepEqual(githubScopesFor(policy({ github_users: ['octocat'], oidc_groups: ['x'] })), []);
    assert.deepEqual(githubScopesFor(policy({ github_organizations: ['acme'] })), ['read:org']);
    assert.deepEqual(githubScopesFor(policy({ github_teams: ['acme/platform'] })), ['read:org']);
    assert.deepEqual(githubScopesFor(policy({ github_teams: ['acme/platform'], email_domains: ['acme.com'] })), ['read:org', 'user:email']);
  });

  it('asks GitHub for nothing when the policy does not allow GitHub', () => {
    assert.deepEqual(githubScopesFor(policy({ github_organizations: ['acme'] }, ['oidc:okta'])), []);
  });
});
