import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Browser, consentForm, devLoginForm } from '../support/browser.js';
import { chromiumMissing } from '../support/chromium.js';
import { assertContrastInBothSchemes } from '../support/contrast.js';
import type { RunningGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, introspect, type TestClient } from '../support/flows.js';
import { assertNoHorizontalScroll, consoleInChromium, csrfOf, devUserId, openPage, postForm, signInAs, signInInChromium, startConsoleGatehouse } from '../support/console.js';

const DOCS = 'https://docs.example.com/mcp';

interface AuditRow {
  type: string;
  actor_kind: string;
  actor_id: string | null;
  resource: string | null;
}

function secretOf(html: string): string {
  const secret = /<code id="registration-secret">([^<]+)<\/code>/.exec(html)?.[1];
  assert.ok(secret, 'the page shows the registration secret');
  return secret;
}

/** The registration form as a browser posts it, filled for the docs server. */
function docsForm(csrf: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    csrf_token: csrf,
    name: 'Docs',
    resource: DOCS,
    scopes: 'docs:read — Read your documents\ndocs:write',
    default_scopes: 'docs:read',
    access_token_ttl: '600',
    refresh_token_ttl: '86400',
    login_method: 'gatehouse',
    login_uri: '',
    consent_uri: '',
    logo_uri: '',
    policy_uri: '',
    tos_uri: '',
    sign_in_providers: '',
    sign_in_allow: 'everyone',
    github_users: '',
    github_organizations: '',
    github_teams: '',
    email_domains: '',
    oidc_groups: '',
    identity_claim_email: 'on',
    ...overrides,
  };
}

describe('the console’s resource servers (DEV_LOGIN, CONSOLE_ADMINS=dev:alice)', () => {
  let gatehouse: RunningGatehouse;
  let client: TestClient;
  let alice: Browser;
  let docsId = '';
  let docsSecret = '';

  before(async () => {
    ({ gatehouse, client } = await startConsoleGatehouse());
    alice = await signIn('alice');
  });
  after(async () => {
    await gatehouse?.close();
  });

  const signIn = (name: string) => signInAs(gatehouse, client, name);
  const open = (browser: Browser, path: string) => openPage(gatehouse, browser, path);

  async function audit(): Promise<AuditRow[]> {
    return (await gatehouse.db.query(`SELECT type, actor_kind, actor_id, resource FROM audit_events WHERE type LIKE 'admin.resource_%' ORDER BY seq`)) as AuditRow[];
  }

  async function resourceRows(): Promise<unknown[]> {
    return (await gatehouse.db.query(`SELECT * FROM resource_servers ORDER BY id`)) as unknown[];
  }

  const aliceId = () => devUserId(gatehouse, 'alice');

  it('lists the resource servers to an admin, with a way to register one', async () => {
    const page = await open(alice, '/console/resources');
    assert.equal(page.status, 200, page.html);
    assert.match(page.html, /<a href="\/console\/resources\/[0-9a-f-]{36}">Acme Projects<\/a>/);
    assert.match(page.html, /<code>https:\/\/projects\.example\.com\/mcp<\/code>/);
    assert.match(page.html, /Everyone a provider vouches for/);
    const form = await open(alice, '/console/resources/new');
    assert.equal(form.status, 200);
    assert.match(form.html, /<form method="post" action="\/console\/resources" novalidate>/);
    assert.match(form.html, /<script src="\/console\/assets\/consent-preview\.js" defer><\/script>/);
    const script = await fetch(`${gatehouse.url}/console/assets/consent-preview.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
  });

  it('registers a resource server: the secret is shown once (200, no-store) and authenticates its backend', async () => {
    const page = await open(alice, '/console/resources/new');
    const response = await postForm(alice, `${gatehouse.url}/console/resources`, docsForm(csrfOf(page)));
    const html = await response.text();
    assert.equal(response.status, 200, html);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('location'), null);
    docsSecret = secretOf(html);
    assert.match(docsSecret, /^gh_rs_/);
    assert.match(html, /<button type="button" data-copy="registration-secret" hidden>Copy<\/button>/);
    assert.match(html, /<span id="registration-secret-copied" aria-live="polite"><\/span>/);
    assert.match(html, /will not be shown again/);

    const listed = await gatehouse.admin('GET', '/admin/resources');
    const docs = listed.body.find((resource: { resource: string }) => resource.resource === DOCS);
    assert.ok(docs, 'the docs server exists');
    docsId = docs.id;
    assert.deepEqual(
      { scopes: docs.scopes, scope_descriptions: docs.scope_descriptions, default_scopes: docs.default_scopes, ttl: [docs.access_token_ttl, docs.refresh_token_ttl], sign_in: docs.sign_in, identity_claims: docs.identity_claims },
      { scopes: ['docs:read', 'docs:write'], scope_descriptions: { 'docs:read': 'Read your documents' }, default_scopes: ['docs:read'], ttl: [600, 86_400], sign_in: { providers: null, allow: 'everyone' }, identity_claims: ['email'] },
    );
    assert.match(html, new RegExp(`href="/console/resources/${docsId}"`));

    const detail = await open(alice, `/console/resources/${docsId}`);
    assert.equal(detail.status, 200);
    assert.doesNotMatch(detail.html, new RegExp(docsSecret), 'the secret is not shown again');
    assert.ok(!alice.visited.some((visit) => visit.includes(docsSecret)), 'the secret was never in a URL');

    const authenticated = await introspect(gatehouse, { resource: { id: docsId, registration_secret: docsSecret }, via: 'bearer' }, 'not-a-token');
    assert.equal(authenticated.status, 200, authenticated.text);
    assert.equal(authenticated.body.active, false);

    const created = (await audit()).filter((row) => row.type === 'admin.resource_created' && row.resource === DOCS);
    assert.deepEqual(created, [{ type: 'admin.resource_created', actor_kind: 'user', actor_id: await aliceId(), resource: DOCS }]);
  });

  it('refuses bad input with 400, the form as sent and an error summary, and writes nothing', async () => {
    const rowsBefore = await resourceRows();
    const auditBefore = (await audit()).length;
    const page = await open(alice, '/console/resources/new');
    const response = await postForm(alice, `${gatehouse.url}/console/resources`, docsForm(csrfOf(page), { name: 'Other <docs>', resource: 'https://other.example.com/mcp', access_token_ttl: '5', logo_uri: 'http://logo.example.com/x.png', scopes: 'ok\nbad"scope' }));
    const html = await response.text();
    assert.equal(response.status, 400);
    assert.match(html, /<div class="error-summary" role="alert"/);
    assert.match(html, /<a href="#access_token_ttl">Access token lifetime: access_token_ttl must not be less than 60<\/a>/);
    assert.match(html, /<a href="#logo_uri">Logo URI: branding\.logo_uri must be an https URL/);
    assert.match(html, /<a href="#scopes">Scopes: scopes: each scope must be a scope-token/);
    assert.match(html, /id="name" name="name" required[^>]* value="Other &lt;docs&gt;"/);
    assert.match(html, /<textarea id="scopes" name="scopes" aria-describedby="scopes-hint scopes-error" aria-invalid="true"[^>]*>ok\nbad&quot;scope<\/textarea>/);

    // Refused by ResourcesService rather than by the DTO: the same resource URI twice, a default scope not in scopes.
    const duplicate = await postForm(alice, `${gatehouse.url}/console/resources`, docsForm(csrfOf(page)));
    assert.equal(duplicate.status, 400);
    assert.match(await duplicate.text(), /<a href="#resource">Resource URI: a resource server for https:\/\/docs\.example\.com\/mcp already exists<\/a>/);
    const subset = await postForm(alice, `${gatehouse.url}/console/resources`, docsForm(csrfOf(page), { resource: 'https://other.example.com/mcp', default_scopes: 'docs:admin' }));
    assert.equal(subset.status, 400);
    assert.match(await subset.text(), /<a href="#default_scopes">Default scopes: default_scopes must be a subset of scopes/);
    const edit = await postForm(alice, `${gatehouse.url}/console/resources/${docsId}`, docsForm(csrfOf(page), { sign_in_providers: 'myspace' }));
    assert.equal(edit.status, 400);
    assert.match(await edit.text(), /<a href="#sign_in_providers">Providers: sign_in\.providers: &quot;myspace&quot; is not a provider/);

    assert.deepEqual(await resourceRows(), rowsBefore);
    assert.equal((await audit()).length, auditBefore);
  });

  it('saves edited scopes and descriptions, which the real consent page then shows', async () => {
    const page = await open(alice, `/console/resources/${docsId}`);
    const response = await postForm(
      alice,
      `${gatehouse.url}/console/resources/${docsId}`,
      docsForm(csrfOf(page), { scopes: 'docs:read — Read your <documents>\ndocs:share - Share documents with your team', default_scopes: '' }),
    );
    assert.equal(response.status, 303, await response.text());
    assert.equal(response.headers.get('location'), `/console/resources/${docsId}?status=saved`);
    const saved = await open(alice, `/console/resources/${docsId}?status=saved`);
    assert.match(saved.html, /Changes saved\./);
    assert.match(saved.html, /docs:share — Share documents with your team<\/textarea>/);

    const updated = (await audit()).filter((row) => row.type === 'admin.resource_updated');
    assert.deepEqual(updated, [{ type: 'admin.resource_updated', actor_kind: 'user', actor_id: await aliceId(), resource: DOCS }]);

    const carol = new Browser('carol');
    const built = authorizationUrl(gatehouse.url, { client, resource: DOCS, scope: 'docs:read docs:share' });
    let step = await carol.navigate(built.url, () => false);
    assert.ok(!('stoppedAt' in step));
    const devForm = devLoginForm(step);
    if (devForm) step = await carol.submitDevLogin(devForm, 'carol');
    assert.ok(!('stoppedAt' in step));
    assert.ok(consentForm(step), `the consent page: ${step.html.slice(0, 300)}`);
    assert.match(step.html, /<span class="scope-description">Read your &lt;documents&gt;<\/span> <code class="scope">docs:read<\/code>/);
    assert.match(step.html, /<span class="scope-description">Share documents with your team<\/span> <code class="scope">docs:share<\/code>/);
    assert.match(step.html, /<span class="app">Docs<\/span>/);
  });

  it('rotates the secret with the chosen overlap: the old one works for it, or stops at once', async () => {
    const caller = (secret: string) => ({ resource: { id: docsId, registration_secret: secret }, via: 'bearer' as const });
    const rotate = async (overlap: string): Promise<{ status: number; html: string; secret: string | null }> => {
      const page = await open(alice, `/console/resources/${docsId}`);
      assert.match(page.html, /<option value="86400" selected>24 hours<\/option>/, 'a day is the default overlap');
      const response = await postForm(alice, `${gatehouse.url}/console/resources/${docsId}/secret`, { csrf_token: csrfOf(page), overlap });
      const html = await response.text();
      return { status: response.status, html, secret: response.status === 200 ? secretOf(html) : null };
    };

    const kept = await rotate('3600');
    assert.equal(kept.status, 200, kept.html);
    assert.notEqual(kept.secret, docsSecret);
    assert.match(kept.html, /will not be shown again/);
    assert.match(kept.html, /previous secret keeps working until <time datetime="([^"]+)"/);
    const until = Date.parse(/keeps working until <time datetime="([^"]+)"/.exec(kept.html)![1]!);
    assert.ok(Math.abs(until - (Date.now() + 3600_000)) < 60_000, 'an hour from now');
    assert.equal((await introspect(gatehouse, caller(kept.secret!), 'not-a-token')).status, 200, 'the new secret works');
    assert.equal((await introspect(gatehouse, caller(docsSecret), 'not-a-token')).status, 200, 'the old one still works within the overlap');

    const revoking = await rotate('0');
    assert.equal(revoking.status, 200, revoking.html);
    assert.match(revoking.html, /previous secret no longer works/);
    assert.equal((await introspect(gatehouse, caller(kept.secret!), 'not-a-token')).status, 401, 'overlap 0: the previous secret stops at once');
    assert.equal((await introspect(gatehouse, caller(docsSecret), 'not-a-token')).status, 401, 'and the one before it too');
    assert.equal((await introspect(gatehouse, caller(revoking.secret!), 'not-a-token')).status, 200);

    const auditBefore = (await audit()).length;
    const tampered = await rotate('31536000');
    assert.equal(tampered.status, 400, 'an overlap the form does not offer');
    assert.equal((await audit()).length, auditBefore, 'and nothing recorded');
    assert.equal((await introspect(gatehouse, caller(revoking.secret!), 'not-a-token')).status, 200, 'the secret is unchanged');

    const rotated = (await audit()).filter((row) => row.type === 'admin.resource_secret_rotated');
    const operatorId = await aliceId();
    assert.deepEqual(rotated, [1, 2].map(() => ({ type: 'admin.resource_secret_rotated', actor_kind: 'user', actor_id: operatorId, resource: DOCS })));
    docsSecret = revoking.secret!;
  });

  it('refuses a post without or with a wrong CSRF token (403), and a viewer’s posts (403), writing nothing', async () => {
    const rowsBefore = await resourceRows();
    const auditBefore = (await audit()).length;
    const page = await open(alice, '/console/resources/new');
    for (const csrf of ['', 'x'.repeat(43)]) {
      const form = docsForm(csrf, { resource: 'https://csrf.example.com/mcp' });
      if (!csrf) delete form.csrf_token;
      for (const path of ['/console/resources', `/console/resources/${docsId}`, `/console/resources/${docsId}/secret`, `/console/resources/${docsId}/delete`]) {
        const response = await postForm(alice, `${gatehouse.url}${path}`, { ...form, confirm: 'yes' });
        assert.equal(response.status, 403, `${path} with ${JSON.stringify(csrf)}`);
        assert.match(await response.text(), /Request not accepted/);
      }
    }
    assert.ok(csrfOf(page));

    const bob = await signIn('bob');
    const bobId = await devUserId(gatehouse, 'bob');
    assert.equal((await gatehouse.admin('PUT', `/admin/operators/${bobId}`, { role: 'viewer' })).status, 200);
    const list = await open(bob, '/console/resources');
    assert.equal(list.status, 200);
    assert.doesNotMatch(list.html, /\/console\/resources\/new/);
    const detail = await open(bob, `/console/resources/${docsId}`);
    assert.equal(detail.status, 200);
    assert.equal(detail.html.match(/<form /g)?.length, 1, 'only the sign-out form');
    assert.match(detail.html, /<span class="scope-description">Share documents with your team<\/span>/);
    assert.equal((await open(bob, '/console/resources/new')).status, 403);
    const csrf = csrfOf(detail);
    for (const path of ['/console/resources', `/console/resources/${docsId}`, `/console/resources/${docsId}/secret`, `/console/resources/${docsId}/delete`]) {
      const response = await postForm(bob, `${gatehouse.url}${path}`, { ...docsForm(csrf, { resource: 'https://viewer.example.com/mcp' }), confirm: 'yes' });
      assert.equal(response.status, 403, path);
      assert.match(await response.text(), /Only a console admin can change this server/);
    }
    assert.deepEqual(await resourceRows(), rowsBefore);
    assert.equal((await audit()).length, auditBefore);
    assert.equal((await introspect(gatehouse, { resource: { id: docsId, registration_secret: docsSecret }, via: 'bearer' }, 'x')).status, 200, 'the secret still works');
  });

  it('deletes only once the box is ticked', async () => {
    const page = await open(alice, `/console/resources/${docsId}`);
    const unconfirmed = await postForm(alice, `${gatehouse.url}/console/resources/${docsId}/delete`, { csrf_token: csrfOf(page) });
    assert.equal(unconfirmed.status, 400);
    assert.match(await unconfirmed.text(), /Tick the box to confirm/);
    assert.equal((await gatehouse.admin('GET', `/admin/resources/${docsId}`)).status, 200);

    const confirmed = await postForm(alice, `${gatehouse.url}/console/resources/${docsId}/delete`, { csrf_token: csrfOf(page), confirm: 'yes' });
    assert.equal(confirmed.status, 303);
    assert.equal(confirmed.headers.get('location'), '/console/resources?status=deleted');
    assert.equal((await gatehouse.admin('GET', `/admin/resources/${docsId}`)).status, 404);
    assert.match((await open(alice, '/console/resources?status=deleted')).html, /Resource server deleted/);
    const deleted = (await audit()).filter((row) => row.type === 'admin.resource_deleted');
    assert.deepEqual(deleted, [{ type: 'admin.resource_deleted', actor_kind: 'user', actor_id: await aliceId(), resource: DOCS }]);
    assert.equal((await open(alice, `/console/resources/${docsId}`)).status, 404);
  });
});

describe('the console’s resource servers in headless Chromium', { skip: chromiumMissing() }, () => {
  const running = consoleInChromium();

  it('updates the consent preview as the operator types, and copies the secret shown once', async (t) => {
    const { gatehouse, client, chromium: browser } = running;
    const context = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gatehouse.url });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      // The refused form is answered 400 on purpose; Chromium reports every 400 document.
      if (message.type() === 'error' && !message.text().includes('status of 400')) errors.push(message.text());
    });
    await signInInChromium(page, gatehouse, client, 'alice');

    await page.goto(`${gatehouse.url}/console/resources/new`);
    const preview = page.getByRole('region', { name: 'Preview' });
    await preview.waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Docs <b>');
    await page.getByLabel('Resource URI').fill(DOCS);
    await page.getByLabel('Scopes', { exact: true }).fill('docs:read — Read your documents\ndocs:write');
    await preview.getByText('Read your documents').waitFor();
    assert.equal(await preview.locator('.brand .app').textContent(), 'Docs <b>');
    assert.deepEqual(await preview.locator('li').allTextContents(), ['Read your documents docs:read', 'docs:write']);
    assert.equal(await preview.locator('b').count(), 0, 'typed markup stays text');
    await page.getByLabel('Everyone the providers vouch for').check();
    for (const line of await assertContrastInBothSchemes(page, 'the registration form')) t.diagnostic(line);

    // Refused: the page comes back with the summary, and the form keeps what was typed.
    await page.getByLabel('Access token lifetime').fill('5');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('alert').filter({ hasText: 'Nothing was saved' }).waitFor();
    assert.equal(await page.getByLabel('Scopes', { exact: true }).inputValue(), 'docs:read — Read your documents\ndocs:write');
    await page.getByRole('link', { name: /Access token lifetime: access_token_ttl must not be less than 60/ }).click();
    assert.equal(await page.evaluate('document.activeElement?.id'), 'access_token_ttl', 'the summary link moves focus to the field');
    for (const line of await assertContrastInBothSchemes(page, 'the refused registration form')) t.diagnostic(line);
    await page.setViewportSize({ width: 320, height: 800 });
    await assertNoHorizontalScroll(page, 'the refused registration form');
    await page.setViewportSize({ width: 1024, height: 900 });
    await page.getByLabel('Access token lifetime').fill('600');

    await page.getByRole('button', { name: 'Register' }).click();
    const secret = page.locator('#registration-secret');
    await secret.waitFor();
    const copy = page.getByRole('button', { name: 'Copy' });
    await copy.click();
    await page.locator('#registration-secret-copied').getByText('Copied.').waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), (await secret.textContent())?.trim());
    for (const line of await assertContrastInBothSchemes(page, 'the secret page')) t.diagnostic(line);
    await page.setViewportSize({ width: 320, height: 800 });
    await assertNoHorizontalScroll(page, 'the secret page');
    await page.getByRole('link', { name: 'Continue to Docs <b>' }).click();
    await page.getByRole('button', { name: 'Save changes' }).waitFor();
    await assertNoHorizontalScroll(page, 'the resource server page');
    await page.goto(`${gatehouse.url}/console/resources`);
    await assertNoHorizontalScroll(page, 'the list');
    assert.deepEqual(errors, []);
    await context.close();
  });
});
