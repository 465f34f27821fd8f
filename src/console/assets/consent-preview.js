// The live consent-page preview of the resource server form: redraws the brand and the scope list as the operator
// types. The server draws the same preview for the stored values, so without script the page still shows one.
// Text only (textContent), never markup: what the operator types is never parsed as HTML.
const preview = document.querySelector('[data-consent-preview]');
const form = preview?.closest('form');
if (preview && form) {
  const field = (name) => form.elements.namedItem(name);
  const brand = preview.querySelector('[data-preview-brand]');
  const nameSpan = preview.querySelector('[data-preview-name]');
  const list = preview.querySelector('[data-preview-scopes]');

  // As parseScopeLines in console-resources-form.ts: the scope up to the first space, then the description after
  // an optional dash or colon.
  const scopeLines = (text) =>
    text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const [scope, ...rest] = line.split(/\s+/);
        return { scope, description: rest.join(' ').replace(/^(?:—|–|-|:)\s*/, '').trim() };
      });

  const httpsLogo = (value) => (/^https:\/\/[^\s#]+$/i.test(value.trim()) ? value.trim() : null);

  // The consent page's brandHeader: an optional logo, then the name.
  const drawBrand = (name, logo) => {
    const header = document.createElement('header');
    header.className = 'brand';
    if (logo) {
      const img = document.createElement('img');
      img.src = logo;
      img.alt = `${name} logo`;
      img.width = 40;
      img.height = 40;
      header.append(img);
    }
    const app = document.createElement('span');
    app.className = 'app';
    app.textContent = name;
    header.append(app);
    brand.replaceChildren(header);
  };

  // The consent page's describedScope: the description with the code beside it, or the code alone.
  const drawScopes = (lines) => {
    list.replaceChildren(
      ...lines.map(({ scope, description }) => {
        const item = document.createElement('li');
        const code = document.createElement('code');
        code.textContent = scope;
        if (description) {
          const words = document.createElement('span');
          words.className = 'scope-description';
          words.textContent = description;
          code.className = 'scope';
          item.append(words, ' ', code);
        } else {
          item.append(code);
        }
        return item;
      }),
    );
  };

  const nameOf = () => field('name').value.trim() || 'This resource server';
  // The logo is fetched only when its field is left (change), not at every key stroke of a half-typed URL.
  let logo = httpsLogo(field('logo_uri').value);
  const redraw = () => {
    const name = nameOf();
    nameSpan.textContent = name;
    drawBrand(name, logo);
    drawScopes(scopeLines(field('scopes').value));
  };
  field('name').addEventListener('input', redraw);
  field('scopes').addEventListener('input', redraw);
  field('logo_uri').addEventListener('change', () => {
    logo = httpsLogo(field('logo_uri').value);
    redraw();
  });
}
