import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Histogram, Registry } from 'prom-client';
import { LatencyHistogram } from './latency-histogram.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The same observations into prom-client's Histogram and into LatencyHistogram, each on a registry of its own. */
function both(): { reference: Histogram<'method' | 'route' | 'status'>; lean: LatencyHistogram; expositions: () => Promise<[string, string]> } {
  const [a, b] = [new Registry(), new Registry()];
  const reference = new Histogram({ name: 'gatehouse_http_request_duration_seconds', help: 'HTTP latency', labelNames: ['method', 'route', 'status'], buckets: BUCKETS, registers: [a] });
  const lean = new LatencyHistogram('gatehouse_http_request_duration_seconds', 'HTTP latency', BUCKETS, b);
  return { reference, lean, expositions: async () => [await a.metrics(), await b.metrics()] };
}

describe('LatencyHistogram', () => {
  it('prints exactly what prom-client’s Histogram prints for the same observations, bucket bounds and label escapes included', async () => {
    const { reference, lean, expositions } = both();
    const observations: Array<[string, string, number, number]> = [
      ['GET', '/.well-known/jwks.json', 200, 0.0004],
      ['GET', '/.well-known/jwks.json', 200, 0.005],
      ['GET', '/.well-known/jwks.json', 200, 0.0051],
      ['POST', '/token', 400, 0.012],
      ['POST', '/token', 200, 0.3],
      ['POST', '/token', 200, 12],
      ['GET', 'unmatched', 404, 10],
      ['GET', '/odd "route" \\ with\nescapes', 200, 0.07],
    ];
    for (const [method, route, status, seconds] of observations) {
      reference.observe({ method, route, status: String(status) }, seconds);
      lean.observe(method, route, status, seconds);
    }
    const [expected, actual] = await expositions();
    assert.equal(actual, expected);
    assert.match(actual, /^gatehouse_http_request_duration_seconds_count\{method="POST",route="\/token",status="200"\} 2$/m);
  });

  it('prints nothing but its help and type before the first observation, and again after a reset', async () => {
    const { reference, lean, expositions } = both();
    let [expected, actual] = await expositions();
    assert.equal(actual, expected);
    lean.observe('GET', '/authorize', 302, 0.02);
    lean.reset();
    reference.observe({ method: 'GET', route: '/authorize', status: '302' }, 0.02);
    reference.reset();
    [expected, actual] = await expositions();
    assert.equal(actual, expected);
    assert.doesNotMatch(actual, /_count/);
  });

  it('a held series (seriesFor) counts as observe does, and after a reset is detached: asked for again, it starts afresh', async () => {
    const { reference, lean, expositions } = both();
    const held = lean.seriesFor('GET', '/.well-known/jwks.json', 200);
    assert.equal(lean.seriesFor('GET', '/.well-known/jwks.json', 200), held, 'one series per label set');
    held.observe(0.0004);
    lean.observe('GET', '/.well-known/jwks.json', 200, 0.02);
    for (const seconds of [0.0004, 0.02]) reference.observe({ method: 'GET', route: '/.well-known/jwks.json', status: '200' }, seconds);
    let [expected, actual] = await expositions();
    assert.equal(actual, expected);
    assert.match(actual, /_count\{method="GET",route="\/\.well-known\/jwks\.json",status="200"\} 2$/m);

    lean.reset();
    reference.reset();
    assert.equal(held.detached, true);
    const fresh = lean.seriesFor('GET', '/.well-known/jwks.json', 200);
    assert.notEqual(fresh, held);
    fresh.observe(3);
    reference.observe({ method: 'GET', route: '/.well-known/jwks.json', status: '200' }, 3);
    [expected, actual] = await expositions();
    assert.equal(actual, expected);
  });
});
