import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { githubApiRoot } from './github-api.js';

describe('githubApiRoot', () => {
  it("is the profile URL's API root, on github.com and on GitHub Enterprise Server", () => {
    assert.equal(githubApiRoot('https://api.github.com/user'), 'https://api.github.com');
    assert.equal(githubApiRoot('https://ghe.example.com/api/v3/user'), 'https://ghe.example.com/api/v3');
    assert.equal(githubApiRoot('https://ghe.example.com/api/v3/user/'), 'https://ghe.example.com/api/v3');
  });
});
