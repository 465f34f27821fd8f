import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthContext, GatehouseGuardModule, Protected, type GatehouseAuth } from 'gatehouse-guard';
import { FakeIssuer } from '../fakes/fake-issuer.js';
import { freePort } from '../support/net.js';

/** Options that come from another provider (as from a config service), through forRootAsync. */
@Injectable()
class SettingsService {
  constructor(readonly issuer: string, readonly resource: string, readonly jwksUri: string) {}
}

@Controller('mcp')
class EchoController {
  @Get()
  @Protected()
  echo(@AuthContext() auth: GatehouseAuth): { sub: string } {
    return { sub: auth.sub };
  }
}

describe('GatehouseGuardModule.forRootAsync', () => {
  let issuer: FakeIssuer;
  let app: INestApplication;
  let base: string;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    issuer = await (await FakeIssuer.create(`${base}/mcp`)).start();
    const settings = new SettingsService(issuer.issuer, `${base}/mcp`, issuer.jwksUri);

    @Module({ providers: [{ provide: SettingsService, useValue: settings }], exports: [SettingsService] })
    class SettingsModule {}

    @Module({
      imports: [
        GatehouseGuardModule.forRootAsync({
          imports: [SettingsModule],
          inject: [SettingsService],
          useFactory: (s: SettingsService) => ({ issuer: s.issuer, resource: s.resource, jwksUri: s.jwksUri, requiredScopes: ['a'] }),
        }),
      ],
      controllers: [EchoController],
    })
    class AppModule {}

    app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(port, '127.0.0.1');
  });
  after(async () => {
    await app?.close();
    await issuer?.stop();
  });

  it('takes its options from a factory: PRM, challenges and verification all use them', async () => {
    const prm = (await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string; authorization_servers: string[] };
    assert.deepEqual(prm.authorization_servers, [issuer.issuer]);
    assert.equal(prm.resource, `${base}/mcp`);

    const anonymous = await fetch(`${base}/mcp`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), `Bearer scope="a", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`);

    const token = await issuer.sign({ claims: { scope: 'a', sub: 'user-9' } });
    const ok = await fetch(`${base}/mcp`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { sub: 'user-9' });
  });
});
