import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { brandHeader, escapeHtml, GATEHOUSE_BRAND, html, page, SafeHtml } from './html.js';

describe('html template', () => {
  it('escapes interpolated text: tags, both quotes and ampersands', () => {
    const name = `<script>alert("x" + 'y')</script>&`;
    assert.equal(html`<p>${name}</p>`.value, '<p>&lt;script&gt;alert(&quot;x&quot; + &#39;y&#39;)&lt;/script&gt;&amp;</p>');
  });

  it('escapes values placed in attributes, so they cannot break out of the quotes', () => {
    const href = `https://example.com/" onmouseover="alert(1)`;
    const out = html`<a href="${href}">x</a>`.value;
    assert.equal(out, '<a href="https://example.com/&quot; onmouseover=&quot;alert(1)">x</a>');
    assert.equal(out.match(/"/g)?.length, 2, 'only the template’s own quotes remain');
  });

  it('does not escape the literal parts of the template', () => {
    assert.equal(html`<b class="x">&nbsp;</b>`.value, '<b class="x">&nbsp;</b>');
  });

  it('inserts SafeHtml (and arrays of it) unescaped, so templates nest', () => {
    const inner = html`<em>${'<i>'}</em>`;
    assert.ok(inner instanceof SafeHtml);
    assert.equal(html`<p>${inner}</p>`.value, '<p><em>&lt;i&gt;</em></p>');
    const items = ['a<b', 'c'].map((item) => html`<li>${item}</li>`);
    assert.equal(html`<ul>${items}</ul>`.value, '<ul><li>a&lt;b</li><li>c</li></ul>');
    assert.equal(html`${new SafeHtml('<hr>')}`.value, '<hr>');
  });

  it('renders null, undefined and false as nothing, and numbers (including 0) as text', () => {
    assert.equal(html`[${null}${undefined}${false}]`.value, '[]');
    assert.equal(html`${0} ${42}`.value, '0 42');
  });

  it('stringifies to its value', () => {
    assert.equal(`${html`<p>${'&'}</p>`}`, '<p>&amp;</p>');
  });
});

describe('escapeHtml', () => {
  it('escapes the five HTML metacharacters and nothing else', () => {
    assert.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;');
    assert.equal(escapeHtml('plain text / ü ✓'), 'plain text / ü ✓');
    assert.equal(escapeHtml('&amp;'), '&amp;amp;', 'escaping is not idempotent: escape once');
  });
});

describe('page', () => {
  it('escapes the title and embeds the body as given', () => {
    const out = page('<Evil> & co', html`<p id="body">${'<x>'}</p>`);
    assert.ok(out.includes('<title>&lt;Evil&gt; &amp; co</title>'));
    assert.ok(out.includes('<main><p id="body">&lt;x&gt;</p></main>'));
    assert.equal(/<script/i.test(out), false, 'pages carry no scripts');
  });
});

describe('brandHeader', () => {
  it('shows the name, and the logo before it when there is one, escaping both', () => {
    assert.equal(brandHeader(GATEHOUSE_BRAND).value, '<header class="brand"><span class="app">Gatehouse</span></header>');
    assert.equal(
      brandHeader({ name: 'Docs <MCP> & "Co"', logoUri: 'https://x.example/l.png?a=1&b="2"' }).value,
      '<header class="brand"><img src="https://x.example/l.png?a=1&amp;b=&quot;2&quot;" alt="Docs &lt;MCP&gt; &amp; &quot;Co&quot; logo" width="40" height="40"><span class="app">Docs &lt;MCP&gt; &amp; &quot;Co&quot;</span></header>',
    );
  });
});
