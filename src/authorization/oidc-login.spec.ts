import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { IDToken } from 'openid-client';
import { identityFrom } from './oidc-login.js';

const token = (claims: Record<string, unknown>): IDToken => ({ iss: 'https://idp.example.com', sub: 's1', aud: 'c', iat: 1, exp: 2, ...claims }) as IDToken;

describe('identityFrom', () => {
  it('takes the person from the ID token, groups from the configured claim', () => {
    const identity = identityFrom(
      { id: 'corp', groupsClaim: 'groups' },
      token({ email: 'a@corp.example', email_verified: true, name: 'A', preferred_username: 'a', groups: ['x', 7, 'y'] }),
      null,
    );
    assert.deepEqual(identity, {
      provider: 'oidc:corp',
      subject: 's1',
      login: 'a',
      name: 'A',
      email: 'a@corp.example',
      emailVerified: true,
      groups: ['x', 'y'],
      organizations: null,
    });
  });

  it('counts an email as verified only when the provider says email_verified: true', () => {
    for (const verified of [undefined, false, 'true', 1]) {
      assert.equal(identityFrom({ id: 'p', groupsClaim: null }, token({ email: 'a@x.example', email_verified: verified }), null).emailVerified, false);
    }
  });

  it('accepts a single-string groups claim, and ignores groups without a configured claim', () => {
    assert.deepEqual(identityFrom({ id: 'p', groupsClaim: 'roles' }, token({ roles: 'admin' }), null).groups, ['admin']);
    assert.deepEqual(identityFrom({ id: 'p', groupsClaim: null }, token({ groups: ['admin'] }), null).groups, []);
  });

  it('fills what the ID token lacks from userinfo, the email with its own email_verified', () => {
    const identity = identityFrom(
      { id: 'p', groupsClaim: 'groups' },
      token({ email_verified: true }),
      { sub: 's1', email: 'b@x.example', email_verified: false, name: 'B', groups: ['g'] },
    );
    assert.deepEqual([identity.email, identity.emailVerified, identity.name, identity.groups], ['b@x.example', false, 'B', ['g']]);
  });
});
