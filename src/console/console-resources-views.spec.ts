import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { ArgumentMetadata } from '@nestjs/common';
import { strictValidationPipe } from '../common/validation.js';
import { CreateResourceServerDto, UpdateResourceServerDto } from '../resources/dto/resource-server.dto.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import type { SignedInOperator } from './console-layout.js';
import { bodyFromForm, EMPTY_FORM, fieldOf, formFromBody, formFromEntity, parseScopeLines, validateBody, type ResourceForm } from './console-resources-form.js';
import { consentPreview, newResourcePage, resourcePage, resourcesListPage, rotationNotice, secretPage, signInSummary } from './console-resources-views.js';

const admin: SignedInOperator = { userId: 'u1', name: 'Ada', role: 'admin', csrfToken: 'csrf-token-value', serverName: 'auth.example.com', devLogin: false };
const viewer: SignedInOperator = { ...admin, role: 'viewer' };

const resource: ResourceServerEntity = {
  id: '6f1c0f7e-8a55-4a57-9a4e-1f1d7f0c2b11',
  name: 'Docs <script>alert(1)</script>',
  resource: 'https://docs.example.com/mcp?a=1&b="2"',
  scopes: ['docs:read', 'docs:write'],
  scopeDescriptions: { 'docs:read': 'Read <your> documents' },
  defaultScopes: ['docs:read'],
  accessTokenTtl: 600,
  refreshTokenTtl: 86_400,
  logoUri: 'https://docs.example.com/logo.png',
  policyUri: null,
  tosUri: null,
  isDefault: false,
  loginMethod: 'gatehouse',
  loginUri: null,
  signIn: { providers: ['github'], allow: { github_organizations: ['acme'], email_domains: ['acme.com', '*.acme.com'] } },
  consentUri: null,
  identityClaims: ['email'],
  requireDpop: false,
  registrationSecretHash: 'hash',
  previousRegistrationSecretHash: null,
  previousRegistrationSecretExpiresAt: null,
  createdAt: new Date('2026-12-01T10:00:00Z'),
  updatedAt: new Date('2026-12-01T10:00:00Z'),
};

const FORM_TAG = /<form method="post" action="\/console\/resources/;

describe('the console resource server pages', () => {
  it('lists name, resource URI, scope count, sign-in summary and creation date, escaped, with a link to each', () => {
    const out = resourcesListPage(admin, [resource], null);
    assert.match(out, /<a href="\/console\/resources\/6f1c0f7e-8a55-4a57-9a4e-1f1d7f0c2b11">Docs &lt;script&gt;alert\(1\)&lt;\/script&gt;<\/a>/);
    assert.doesNotMatch(out, /<script>alert/);
    assert.match(out, /<code>https:\/\/docs\.example\.com\/mcp\?a=1&amp;b=&quot;2&quot;<\/code>/);
    assert.match(out, /<td>2<\/td>/);
    assert.match(out, /<td>3 rule entries \(github\)<\/td>/);
    assert.match(out, /<time datetime="2026-12-01T10:00:00.000Z">/);
    assert.match(out, /href="\/console\/resources\/new"/);
    assert.doesNotMatch(resourcesListPage(viewer, [resource], null), /\/console\/resources\/new/);
  });

  it('summarises sign-in policies', () => {
    assert.equal(signInSummary({ loginMethod: 'gatehouse', signIn: { providers: null, allow: {} } }), 'Nobody yet: no rules');
    assert.equal(signInSummary({ loginMethod: 'gatehouse', signIn: { providers: null, allow: 'everyone' } }), 'Everyone a provider vouches for');
    assert.equal(signInSummary({ loginMethod: 'external', signIn: { providers: null, allow: 'everyone' } }), 'The product’s own login page');
  });

  it('gives an admin the form prefilled, with rotation and a delete that must be confirmed', () => {
    const out = resourcePage(admin, resource);
    assert.match(out, /<form method="post" action="\/console\/resources\/6f1c0f7e-8a55-4a57-9a4e-1f1d7f0c2b11" novalidate/);
    assert.match(out, /<textarea id="scopes" name="scopes"[^>]*>docs:read — Read &lt;your&gt; documents\ndocs:write<\/textarea>/);
    assert.match(out, /id="access_token_ttl" name="access_token_ttl"[^>]* value="600"/);
    assert.match(out, /id="login_method-gatehouse" name="login_method" value="gatehouse" checked/);
    assert.match(out, /id="sign_in_allow-rules" name="sign_in_allow" value="rules" checked/);
    assert.match(out, /<textarea id="email_domains"[^>]*>acme\.com\n\*\.acme\.com<\/textarea>/);
    assert.match(out, /id="identity_claim_email" name="identity_claim_email" checked/);
    assert.match(out, /action="\/console\/resources\/6f1c0f7e-8a55-4a57-9a4e-1f1d7f0c2b11\/secret"/);
    assert.match(out, /<input type="checkbox" id="confirm" name="confirm" value="yes" required>/);
    assert.equal(out.match(/name="csrf_token" value="csrf-token-value"/g)?.length, 4, 'sign-out, edit, rotate, delete');
    assert.match(out, /<script src="\/console\/assets\/consent-preview\.js" defer><\/script>/);
    assert.doesNotMatch(out, /<script>alert/);
  });

  it('shows a viewer the stored values and the preview, and no form but sign-out', () => {
    const out = resourcePage(viewer, resource);
    assert.doesNotMatch(out, FORM_TAG);
    assert.doesNotMatch(out, /<(?:input|textarea|select)(?![^>]*type="hidden")/);
    assert.equal(out.match(/<form /g)?.length, 1, 'only the sign-out form');
    assert.match(out, /<span class="scope-description">Read &lt;your&gt; documents<\/span> <code class="scope">docs:read<\/code>/);
    assert.match(out, /<li>GitHub organisations: <code>acme<\/code><\/li>/);
    assert.match(out, /aria-labelledby="preview-title"/);
  });

  it('draws the preview as the consent page does: brand header with logo, scopes in words, escaped and inert', () => {
    const out = consentPreview({ name: '<b>Docs</b>', logo_uri: 'https://docs.example.com/logo.png', scopes: 'docs:read — Read <your> documents\n\ndocs:write' }).value;
    assert.match(out, /<header class="brand"><img src="https:\/\/docs\.example\.com\/logo\.png" alt="&lt;b&gt;Docs&lt;\/b&gt; logo" width="40" height="40"><span class="app">&lt;b&gt;Docs&lt;\/b&gt;<\/span><\/header>/);
    assert.match(out, /<li><span class="scope-description">Read &lt;your&gt; documents<\/span> <code class="scope">docs:read<\/code><\/li><li><code>docs:write<\/code><\/li>/);
    assert.doesNotMatch(out, /<(?:form|input|button|textarea|iframe)/);
    assert.doesNotMatch(consentPreview({ name: 'x', logo_uri: 'javascript:alert(1)', scopes: '' }).value, /<img/, 'only an https logo is drawn');
  });

  it('shows the secret once, with a copy button, its live region and the sentence that it will not be shown again', () => {
    const out = secretPage(admin, resource, 'gh_rs_secret<&>', 'created', '');
    assert.match(out, /<code id="registration-secret">gh_rs_secret&lt;&amp;&gt;<\/code>/);
    assert.match(out, /<button type="button" data-copy="registration-secret" hidden>Copy<\/button>/);
    assert.match(out, /<span id="registration-secret-copied" aria-live="polite"><\/span>/);
    assert.match(out, /will not be shown again/);
    assert.match(out, /<script src="\/console\/assets\/console\.js" defer><\/script>/);
  });

  it('says whether the previous secret keeps working after a rotation', () => {
    assert.match(rotationNotice(new Date('2026-12-06T10:00:00Z')).value, /keeps working until <time datetime="2026-12-06T10:00:00.000Z">/);
    assert.match(rotationNotice(null).value, /previous secret no longer works/);
  });

  it('re-renders a refused form as sent, with a summary linking to each field and the field marked invalid', () => {
    const form: ResourceForm = { ...EMPTY_FORM, name: 'N"x', access_token_ttl: 'ten' };
    const out = newResourcePage(admin, form, [
      { field: 'access_token_ttl', message: 'access_token_ttl must be an integer number' },
      { field: 'login_method', message: 'login_method must be one of the following values' },
    ]);
    assert.match(out, /<div class="error-summary" role="alert"/);
    assert.match(out, /<a href="#access_token_ttl">Access token lifetime: access_token_ttl must be an integer number<\/a>/);
    assert.match(out, /<a href="#login_method-gatehouse">/);
    assert.match(out, /id="access_token_ttl" name="access_token_ttl" aria-describedby="access_token_ttl-hint access_token_ttl-error" aria-invalid="true"[^>]* value="ten"/);
    assert.match(out, /id="name" name="name" required[^>]* value="N&quot;x"/);
  });
});

describe('the console resource server form', () => {
  it('reads scope lines with optional descriptions', () => {
    assert.deepEqual(parseScopeLines('docs:read — Read documents\n  docs:write - Write  them \n\nadmin\nx: y: z'), {
      scopes: ['docs:read', 'docs:write', 'admin', 'x:'],
      descriptions: { 'docs:read': 'Read documents', 'docs:write': 'Write them', 'x:': 'y: z' },
    });
  });

  it('round-trips a stored resource server into the admin API body', async () => {
    const body = bodyFromForm(formFromBody(bodyOf(formFromEntity(resource))), 'update');
    assert.deepEqual(JSON.parse(JSON.stringify(body)), {
      name: resource.name,
      resource: resource.resource,
      scopes: ['docs:read', 'docs:write'],
      scope_descriptions: { 'docs:read': 'Read <your> documents' },
      default_scopes: ['docs:read'],
      access_token_ttl: 600,
      refresh_token_ttl: 86_400,
      branding: { logo_uri: 'https://docs.example.com/logo.png' },
      is_default: false,
      login_method: 'gatehouse',
      login_uri: null,
      consent_uri: null,
      sign_in: { providers: ['github'], allow: { github_organizations: ['acme'], email_domains: ['acme.com', '*.acme.com'] } },
      identity_claims: ['email'],
      require_dpop: false,
    });
    assert.deepEqual((await validateBody(UpdateResourceServerDto, body)).errors, []);
  });

  it('refuses exactly what the admin API’s validation pipe refuses, naming each field', async () => {
    const good = bodyFromForm({ ...EMPTY_FORM, name: 'Docs', resource: 'https://docs.example.com/mcp', scopes: 'docs:read' }, 'create');
    const cases: Array<Record<string, unknown>> = [
      good,
      { ...good, access_token_ttl: 'ten' },
      { ...good, access_token_ttl: 10 },
      { ...good, resource: 'http://docs.example.com/' },
      { ...good, scopes: [] },
      { ...good, scopes: ['a"b'] },
      { ...good, branding: { logo_uri: 'ftp://x' } },
      { ...good, login_method: 'saml' },
      { ...good, identity_claims: ['shoe_size'] },
      { ...good, name: '' },
    ];
    const metadata: ArgumentMetadata = { type: 'body', metatype: CreateResourceServerDto };
    for (const body of cases) {
      const pipeRefuses = await strictValidationPipe.transform(JSON.parse(JSON.stringify(body)), metadata).then(
        () => false,
        () => true,
      );
      const { errors } = await validateBody(CreateResourceServerDto, body);
      assert.equal(errors.length > 0, pipeRefuses, JSON.stringify(body));
    }
    const { errors } = await validateBody(CreateResourceServerDto, { ...good, access_token_ttl: 'ten', branding: { logo_uri: 'ftp://x' }, login_method: 'saml' });
    assert.deepEqual(
      errors.map((error) => error.field),
      ['access_token_ttl', 'logo_uri', 'login_method'],
    );
    assert.match(errors[1]!.message, /^branding\.logo_uri must be an https URL/);
  });

  it('puts ResourcesService’s refusals on their fields', () => {
    assert.equal(fieldOf('scope_descriptions: not in scopes: "x"'), 'scopes');
    assert.equal(fieldOf('default_scopes must be a subset of scopes; not in scopes: x'), 'default_scopes');
    assert.equal(fieldOf('login_uri is required when login_method is external'), 'login_uri');
    assert.equal(fieldOf('sign_in.providers: "x" is not a provider'), 'sign_in_providers');
    assert.equal(fieldOf('sign_in.allow.github_teams: "x" is not one of GitHub teams'), 'github_teams');
    assert.equal(fieldOf('a resource server for https://x/ already exists'), 'resource');
  });
});

/** The form as a browser would post it. */
function bodyOf(form: ResourceForm): Record<string, string> {
  const body: Record<string, string> = {};
  for (const [key, value] of Object.entries(form)) {
    if (key === 'identity_claims') for (const claim of value as string[]) body[`identity_claim_${claim}`] = 'on';
    else if (typeof value === 'boolean') {
      if (value) body[key] = 'on';
    } else body[key] = value as string;
  }
  return body;
}
