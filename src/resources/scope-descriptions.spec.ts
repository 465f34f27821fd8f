import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { InvalidScopeDescriptions, keepDescribed, parseScopeDescriptions } from './scope-descriptions.js';

const SCOPES = ['docs:read', 'docs:write'];

function refusal(value: unknown): string {
  try {
    parseScopeDescriptions(value, SCOPES);
  } catch (error) {
    assert.ok(error instanceof InvalidScopeDescriptions, String(error));
    return error.message;
  }
  assert.fail(`accepted ${JSON.stringify(value)}`);
}

describe('parseScopeDescriptions', () => {
  it('keeps descriptions of the resource scopes, trimmed, in the order of the scopes', () => {
    const parsed = parseScopeDescriptions({ 'docs:write': ' Change your documents ', 'docs:read': 'Read your <documents> & "notes"' }, SCOPES);
    assert.deepEqual(parsed, { 'docs:read': 'Read your <documents> & "notes"', 'docs:write': 'Change your documents' });
    assert.deepEqual(Object.keys(parsed), SCOPES);
    assert.deepEqual(parseScopeDescriptions({}, SCOPES), {});
  });

  it('refuses anything but an object', () => {
    for (const value of [null, 'Read', ['docs:read'], 42]) assert.match(refusal(value), /^scope_descriptions must be an object/);
  });

  it('refuses a description of a scope the resource does not have, naming it', () => {
    assert.match(refusal({ 'docs:read': 'Read', 'admin:all': 'Everything' }), /^scope_descriptions: not in scopes: "admin:all"$/);
    assert.match(refusal(JSON.parse('{"__proto__": "x", "docs:read": "Read"}')), /^scope_descriptions: not in scopes: "__proto__"$/);
  });

  it('refuses empty, blank, too long and non-string descriptions, naming the scope', () => {
    assert.match(refusal({ 'docs:read': '' }), /^scope_descriptions\.docs:read must be 1 to 200 characters$/);
    assert.match(refusal({ 'docs:read': '   ' }), /^scope_descriptions\.docs:read must be 1 to 200 characters$/);
    assert.match(refusal({ 'docs:read': 'x'.repeat(201) }), /^scope_descriptions\.docs:read must be 1 to 200 characters$/);
    assert.equal(parseScopeDescriptions({ 'docs:read': 'x'.repeat(200) }, SCOPES)['docs:read']?.length, 200);
    assert.match(refusal({ 'docs:read': 7 }), /^scope_descriptions\.docs:read must be a string$/);
    assert.match(refusal({ 'docs:read': null }), /^scope_descriptions\.docs:read must be a string$/);
  });

  it('refuses control, line-break and bidirectional formatting characters, and unpaired surrogates', () => {
    for (const text of ['Read\u0000', 'Read\nall', 'Read\tall', 'Read\u0085', 'Read\u2028all', 'Read \u202Eetirw', 'Read \u2066x\u2069', 'Read \uD800']) {
      assert.match(refusal({ 'docs:write': text }), /^scope_descriptions\.docs:write must not contain control/, JSON.stringify(text));
    }
    assert.equal(parseScopeDescriptions({ 'docs:read': 'Lire vos documents 📄 (ça va)' }, SCOPES)['docs:read'], 'Lire vos documents 📄 (ça va)');
  });
});

describe('keepDescribed', () => {
  it('drops the descriptions of scopes no longer listed', () => {
    assert.deepEqual(keepDescribed({ 'docs:read': 'Read', 'docs:write': 'Write' }, ['docs:write', 'docs:admin']), { 'docs:write': 'Write' });
  });
});
