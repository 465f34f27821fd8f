import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { ModulesContainer } from '@nestjs/core';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { ADMIN_OPENAPI } from '../../src/admin/openapi.js';
import { AUDIT_OUTCOMES } from '../../src/audit/audit-filter.js';
import { DEFAULT_SECRET_OVERLAP_SECONDS, MAX_SECRET_OVERLAP_SECONDS } from '../../src/resources/dto/resource-server.dto.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';

describe('admin API', () => {
  let gatehouse: RunningGatehouse;
  before(async () => {
    gatehouse = await startGatehouse();
  });
  after(async () => {
    await gatehouse?.close();
  });

  it('requires the admin bearer token, compared exactly', async () => {
    const none = await fetch(`${gatehouse.url}/admin/resources`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="gatehouse-admin"/);
    const wrong = await fetch(`${gatehouse.url}/admin/resources`, { headers: { authorization: `Bearer ${gatehouse.adminToken}x` } });
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { error: 'invalid_token', error_description: 'a valid admin bearer token is required' });
    assert.match(wrong.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it('creates, reads, updates, rotates the secret of, and deletes a resource server', async () => {
    const created = await gatehouse.admin('POST', '/admin/resources', {
      name: 'Docs',
      resource: 'https://Docs.Example.com',
      scopes: ['docs:read', 'docs:write'],
      default_scopes: ['docs:read'],
      branding: { logo_uri: 'https://docs.example.com/logo.png' },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.resource, 'https://docs.example.com/', 'stored in canonical form');
    assert.equal(created.body.access_token_ttl, 3600);
    assert.equal(created.body.refresh_token_ttl, 2592000);
    assert.match(created.body.registration_secret, /^gh_rs_[A-Za-z0-9_-]{43}$/);
    const id: string = created.body.id;

    const rows = (await gatehouse.db.query('SELECT registration_secret_hash FROM resource_servers WHERE id = $1', [id])) as Array<{ registration_secret_hash: string }>;
    assert.notEqual(rows[0]?.registration_secret_hash, created.body.registration_secret, 'the secret is stored hashed');

    const read = await gatehouse.admin('GET', `/admin/resources/${id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.registration_secret, undefined, 'the secret is shown only once');
    assert.equal(read.body.branding.logo_uri, 'https://docs.example.com/logo.png');

    const patched = await gatehouse.admin('PATCH', `/admin/resources/${id}`, { access_token_ttl: 600, is_default: true });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.access_token_ttl, 600);
    assert.equal(patched.body.is_default, true);
    assert.deepEqual(patched.body.scopes, ['docs:read', 'docs:write']);

    const rotated = await gatehouse.admin('POST', `/admin/resources/${id}/secret`);
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.registration_secret, created.body.registration_secret);

    const list = await gatehouse.admin('GET', '/admin/resources');
    assert.deepEqual(list.body.map((r: { id: string }) => r.id), [id]);

    assert.equal((await gatehouse.admin('DELETE', `/admin/resources/${id}`)).status, 204);
    assert.equal((await gatehouse.admin('GET', `/admin/resources/${id}`)).status, 404);
  });

  it('rejects bad input with a message naming the field, and writes nothing', async () => {
    const before = await gatehouse.count('resource_servers');
    const cases: Array<[unknown, RegExp]> = [
      [{ name: 'x', resource: 'http://example.com/mcp', scopes: ['a'] }, /resource/],
      [{ name: 'x', resource: 'https://example.com/mcp#frag', scopes: ['a'] }, /resource/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: [] }, /scopes/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['has space'] }, /scope/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], default_scopes: ['b'] }, /default_scopes/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], access_token_ttl: 5 }, /access_token_ttl/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], surprise: true }, /surprise/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], branding: { logo_uri: 'javascript:alert(1)' } }, /logo_uri/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], scope_descriptions: ['Read'] }, /^scope_descriptions must be an object/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], scope_descriptions: { b: 'Bee' } }, /^scope_descriptions: not in scopes: "b"/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], scope_descriptions: { a: '' } }, /^scope_descriptions\.a must be 1 to 200 characters/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], scope_descriptions: { a: 'x'.repeat(201) } }, /^scope_descriptions\.a must be 1 to 200/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], scope_descriptions: { a: 'Read\u0007' } }, /^scope_descriptions\.a must not contain control/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], scope_descriptions: { a: 'Read\nall' } }, /^scope_descriptions\.a must not contain control/],
      [{ name: 'x', resource: 'https://example.com/mcp', scopes: ['a'], scope_descriptions: { a: 5 } }, /^scope_descriptions\.a must be a string/],
    ];
    for (const [body, field] of cases) {
      const response = await gatehouse.admin('POST', '/admin/resources', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(response.body.error, 'invalid_request');
      assert.match(response.body.error_description, field);
    }
    const notJson = await fetch(`${gatehouse.url}/admin/resources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gatehouse.adminToken}`, 'content-type': 'text/plain' },
      body: 'name=x',
    });
    assert.equal(notJson.status, 400);
    assert.equal(((await notJson.json()) as { error: string }).error, 'invalid_request');
    assert.equal(await gatehouse.count('resource_servers'), before);
  });

  it('stores scope descriptions, replaces them on update, and drops those of scopes removed', async () => {
    const created = await gatehouse.admin('POST', '/admin/resources', {
      name: 'Described',
      resource: 'https://described.example.com/mcp',
      scopes: ['docs:read', 'docs:write', 'docs:admin'],
      scope_descriptions: { 'docs:write': '  Change your documents ', 'docs:read': 'Read your documents' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.scope_descriptions, { 'docs:read': 'Read your documents', 'docs:write': 'Change your documents' });
    const id: string = created.body.id;
    assert.deepEqual((await gatehouse.admin('GET', `/admin/resources/${id}`)).body.scope_descriptions, created.body.scope_descriptions);

    // Scopes changed alone: the removed scope's description goes with it.
    const narrowed = await gatehouse.admin('PATCH', `/admin/resources/${id}`, { scopes: ['docs:read', 'docs:admin'] });
    assert.equal(narrowed.status, 200);
    assert.deepEqual(narrowed.body.scope_descriptions, { 'docs:read': 'Read your documents' });

    // Both at once: a description of a scope not in the new list is refused, and nothing changes.
    const before = (await gatehouse.db.query('SELECT scopes, scope_descriptions, updated_at FROM resource_servers WHERE id = $1', [id])) as unknown[];
    const refused = await gatehouse.admin('PATCH', `/admin/resources/${id}`, { scopes: ['docs:read'], scope_descriptions: { 'docs:admin': 'Administer' } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_request');
    assert.match(refused.body.error_description, /^scope_descriptions: not in scopes: "docs:admin"/);
    const refusedAlone = await gatehouse.admin('PATCH', `/admin/resources/${id}`, { scope_descriptions: { 'docs:admin': 'Line\u2028break' } });
    assert.equal(refusedAlone.status, 400);
    assert.match(refusedAlone.body.error_description, /^scope_descriptions\.docs:admin must not contain/);
    assert.deepEqual(await gatehouse.db.query('SELECT scopes, scope_descriptions, updated_at FROM resource_servers WHERE id = $1', [id]), before, 'nothing written');

    // A new map replaces the old one; {} removes every description.
    const replaced = await gatehouse.admin('PATCH', `/admin/resources/${id}`, { scope_descriptions: { 'docs:admin': 'Administer the library' } });
    assert.deepEqual(replaced.body.scope_descriptions, { 'docs:admin': 'Administer the library' });
    const cleared = await gatehouse.admin('PATCH', `/admin/resources/${id}`, { scope_descriptions: {} });
    assert.deepEqual(cleared.body.scope_descriptions, {});
    assert.deepEqual((await gatehouse.admin('POST', '/admin/resources', { name: 'Plain', resource: 'https://plain.example.com/mcp', scopes: ['a'] })).body.scope_descriptions, {});
  });

  it('refuses a second resource server with the same canonical URL', async () => {
    const first = await gatehouse.admin('POST', '/admin/resources', { name: 'A', resource: 'https://dup.example.com/mcp', scopes: ['a'] });
    assert.equal(first.status, 201);
    const second = await gatehouse.admin('POST', '/admin/resources', { name: 'B', resource: 'https://DUP.example.com:443/mcp', scopes: ['a'] });
    assert.equal(second.status, 400);
    assert.match(second.body.error_description, /already exists/);
  });

  it('pre-registers confidential and public clients, shows the secret once, and deletes them', async () => {
    const confidential = await gatehouse.admin('POST', '/admin/clients', { client_name: 'Backend', redirect_uris: ['https://app.example.com/cb'] });
    assert.equal(confidential.status, 201);
    assert.equal(confidential.body.token_endpoint_auth_method, 'client_secret_basic');
    assert.match(confidential.body.client_secret, /^gh_cs_/);
    assert.equal(confidential.body.registration_access_token, undefined, 'pre-registered clients are managed by the admin API, not RFC 7592');
    const publicClient = await gatehouse.admin('POST', '/admin/clients', { redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' });
    assert.equal(publicClient.status, 201);
    assert.equal(publicClient.body.client_secret, undefined);

    const list = await gatehouse.admin('GET', '/admin/clients');
    const listed = list.body.find((c: { client_id: string }) => c.client_id === confidential.body.client_id);
    assert.equal(listed.kind, 'static');
    assert.equal(listed.client_secret, undefined);

    assert.equal((await gatehouse.admin('DELETE', `/admin/clients/${confidential.body.client_id}`)).status, 204);
    assert.equal((await gatehouse.admin('DELETE', `/admin/clients/${confidential.body.client_id}`)).status, 404);
  });

  it('serves an OpenAPI document that lists exactly the admin routes', async () => {
    const response = await gatehouse.admin('GET', '/admin/openapi.json');
    assert.equal(response.status, 200);
    assert.equal(response.body.openapi, '3.1.0');
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(ADMIN_OPENAPI.paths)) {
      for (const method of Object.keys(item)) if (method !== 'parameters') documented.add(`${method.toUpperCase()} ${path}`);
    }
    const routed = new Set<string>();
    for (const module of gatehouse.app.get(ModulesContainer).values()) {
      for (const wrapper of module.controllers.values()) {
        const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
        if (!controller) continue;
        const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
        for (const name of Object.getOwnPropertyNames(controller.prototype)) {
          const handler = (controller.prototype as Record<string, unknown>)[name];
          if (typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
          const paths = [Reflect.getMetadata(PATH_METADATA, handler) as string | string[]].flat();
          for (const sub of paths) {
            const full = ('/' + [base, sub].filter((part) => part && part !== '/').join('/')).replace(/\/+/g, '/').replace(/:(\w+)/g, '{$1}');
            if (full.startsWith('/admin')) routed.add(`${RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number]} ${full}`);
          }
        }
      }
    }
    assert.ok(routed.size >= 9, `found admin routes: ${[...routed].join(', ')}`);
    assert.deepEqual([...routed].sort(), [...documented].sort());
  });

  it('documents the outcomes and overlap bounds the code accepts (openapi.ts writes them out)', () => {
    const auditParameters = ADMIN_OPENAPI.paths['/admin/audit'].get.parameters as ReadonlyArray<{ name: string; schema: object }>;
    assert.deepEqual(auditParameters.find((parameter) => parameter.name === 'outcome')?.schema, { type: 'string', enum: AUDIT_OUTCOMES });
    const overlap = ADMIN_OPENAPI.components.schemas.SecretRotationInput.properties.overlap_seconds;
    assert.deepEqual([overlap.default, overlap.maximum], [DEFAULT_SECRET_OVERLAP_SECONDS, MAX_SECRET_OVERLAP_SECONDS]);
  });
});

describe('admin API without ADMIN_TOKEN', () => {
  it('answers 404 on every admin route', async () => {
    const gatehouse = await startGatehouse({ env: { ADMIN_TOKEN: '' } });
    try {
      for (const path of ['/admin/resources', '/admin/clients', '/admin/openapi.json']) {
        const response = await fetch(`${gatehouse.url}${path}`, { headers: { authorization: 'Bearer anything-at-all-anything-at-all' } });
        assert.equal(response.status, 404, path);
        assert.equal(((await response.json()) as { error: string }).error, 'not_found');
      }
    } finally {
      await gatehouse.close();
    }
  });
});
