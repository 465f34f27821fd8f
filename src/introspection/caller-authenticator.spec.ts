import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Request } from 'express';
import type { ClientAuthenticator } from '../registration/client-authenticator.js';
import type { ClientEntity } from '../registration/client.entity.js';
import type { ClientsService } from '../registration/clients.service.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import type { ResourcesService } from '../resources/resources.service.js';
import { CallerAuthenticator } from './caller-authenticator.js';

const ID = '3f2b8c1e-9a4d-4e5f-8a6b-7c8d9e0f1a2b';
const CLIENT = { id: ID, metadata: { token_endpoint_auth_method: 'client_secret_basic' } } as unknown as ClientEntity;
const RESOURCE = { id: ID, resource: 'https://mcp.example.com/' } as unknown as ResourceServerEntity;

/** A CallerAuthenticator over fakes that log which lookups it made. */
function setup(options: { clientCached: boolean; resourceExists: boolean }) {
  const calls: string[] = [];
  const clients = { authenticate: async () => (calls.push('client-auth'), CLIENT) } as unknown as ClientAuthenticator;
  const resources = {
    exists: async () => (calls.push('resource-exists'), options.resourceExists),
    byIdAndSecret: async () => (calls.push('resource-auth'), RESOURCE),
  } as unknown as ResourcesService;
  const registered = { isCached: (id: string) => (calls.push(`cached?${id === ID}`), options.clientCached) } as unknown as ClientsService;
  const authenticator = new CallerAuthenticator(clients, resources, registered);
  const request = () => ({ headers: { authorization: `Basic ${Buffer.from(`${ID}:secret`).toString('base64')}` } }) as unknown as Request;
  return { authenticator, calls, request };
}

describe('CallerAuthenticator with Basic credentials', () => {
  it('takes an id the record cache holds as a client for a client, without looking for a resource', async () => {
    const { authenticator, calls, request } = setup({ clientCached: true, resourceExists: false });
    assert.deepEqual(await authenticator.identify(request(), {}), { kind: 'client', client: CLIENT });
    assert.deepEqual(calls, ['cached?true', 'client-auth']);
  });

  it('otherwise looks for a resource first, as before', async () => {
    const asResource = setup({ clientCached: false, resourceExists: true });
    assert.deepEqual(await asResource.authenticator.identify(asResource.request(), {}), { kind: 'resource', resource: RESOURCE });
    assert.deepEqual(asResource.calls, ['cached?true', 'resource-exists', 'resource-auth']);

    const asClient = setup({ clientCached: false, resourceExists: false });
    assert.deepEqual(await asClient.authenticator.identify(asClient.request(), {}), { kind: 'client', client: CLIENT });
    assert.deepEqual(asClient.calls, ['cached?true', 'resource-exists', 'client-auth']);
  });
});
