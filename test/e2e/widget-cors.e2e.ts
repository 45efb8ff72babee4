import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { gql } from '../../src/cli/client';
import { ADMIN_KEY, startServer, type ServerProcess } from '../support/server';
import { serviceMissing } from '../support/services';
import { chromiumMissing, launchChromium, shopperPage, startShop } from '../support/browser';
import { seedShop, widgetTag, type ShopIds } from '../support/shop-setup';

/**
 * The button on a merchant's own site, in the simulator: Chromium opens a shop page served from
 * 127.0.0.2 (another origin than webdial's 127.0.0.1), clicks the button, and the call runs to its
 * end. CORS lets exactly the merchants' allowed origins through, and no more.
 */
describe('the widget embedded cross-origin (simulator, headless Chromium)', () => {
  let skipped = '';
  let server: ServerProcess;
  let browser: Browser;
  let shop: { origin: string; close(): Promise<void> };
  let stranger: { origin: string; close(): Promise<void> };
  let ids: ShopIds;
  let other: ShopIds;
  const webdial = () => new URL(server.url).origin;
  const calls = async (m: string) => (await gql(server.url, `query($m: ID!) { calls(filter: { merchantId: $m }, first: 50) { edges { node { id state } } } }`, { m }, ADMIN_KEY)).calls.edges.length as number;

  before(async () => {
    server = await startServer({ WEBDIAL_MEDIA: 'simulator', WEBDIAL_SIM_RING_MS: '200', WEBDIAL_SIM_ANSWER_MS: '300', WEBDIAL_SIM_TALK_MS: '800', WEBDIAL_SIM_DTMF: '*76' });
    // The shop (127.0.0.2) embeds merchant `ids`; the stranger's page (127.0.0.3) is in no merchant's list.
    shop = await startShop('127.0.0.2', () => widgetTag(webdial(), ids));
    stranger = await startShop('127.0.0.3', () => widgetTag(webdial(), ids));
    ids = await seedShop(server.url, { name: 'Shop', allowedOrigins: [shop.origin], pushUrl: `${shop.origin}/offer` });
    // Another merchant, whose page the shop's origin is not in.
    other = await seedShop(server.url, { name: 'Other', allowedOrigins: ['https://other.example'], anis: ['+33100000202'] });
    skipped = chromiumMissing() ?? '';
    if (!skipped) browser = await launchChromium('fake');
  });
  after(async () => {
    await browser?.close();
    await shop?.close();
    await stranger?.close();
    await server?.stop();
  });
  const skip = (t: TestContext) => serviceMissing(t, 'Chromium', skipped);

  test('the loader is small: at most 10 KB gzipped, and the LiveKit client is not in it', async () => {
    const res = await fetch(`${webdial()}/widget.js`);
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    const gz = gzipSync(body, { level: 9 });
    assert.ok(gz.length <= 10 * 1024, `widget.js is ${gz.length} bytes gzipped`);
    assert.equal(gunzipSync(gz).toString(), body.toString());
    assert.doesNotMatch(body.toString(), /livekit/i);
    const call = await fetch(`${webdial()}/widget/call.js`, { headers: { origin: shop.origin } });
    assert.equal(call.status, 200);
    assert.equal(call.headers.get('access-control-allow-origin'), '*', 'a module imported cross-origin needs CORS');
    console.log(`# measured: widget loader ${body.length} bytes, ${gz.length} bytes gzipped`);
  });

  test('a shopper on the shop page clicks the button: the call reaches TERMINATED, with no console errors', async (t) => {
    if (skipped) return skip(t);
    const { context, page, errors } = await shopperPage(browser);
    try {
      await page.goto(`${shop.origin}/product/1`);
      await page.locator('[data-webdial] button.b').click();
      const box = page.locator('[data-webdial] .w');
      await page.locator('[data-webdial] .note.sim').waitFor({ timeout: 10_000 });
      assert.match((await page.locator('[data-webdial] .note.sim').textContent()) ?? '', /Simulator: no audio will flow/);
      await box.and(page.locator('[data-state="answered"]')).waitFor({ timeout: 10_000 });
      // No microphone in the simulator: no Mute button, even while answered (issue 22: it always showed).
      assert.equal(await page.locator('[data-webdial] button.mute').isVisible(), false);
      await page.locator(`[data-webdial] .page a[href="${shop.origin}/offer"]`).waitFor({ timeout: 10_000 });
      await box.and(page.locator('[data-state="terminated"]')).waitFor({ timeout: 10_000 });
      assert.equal(await box.getAttribute('data-cause'), 'HANGUP');
      assert.deepEqual(errors, []);
      assert.equal(await calls(ids.merchant), 1);
    } finally {
      await context.close();
    }
  });

  test("a page in no merchant's allowedOrigins is refused by the browser's preflight, and no call is recorded", async (t) => {
    if (skipped) return skip(t);
    const before = await calls(ids.merchant);
    const { context, page } = await shopperPage(browser);
    try {
      await page.goto(`${stranger.origin}/product/1`);
      await page.locator('[data-webdial] button.b').click();
      await page.locator('[data-webdial] .w[data-state="failed"]').waitFor({ timeout: 10_000 });
      assert.equal(await calls(ids.merchant), before);
    } finally {
      await context.close();
    }
  });

  test("an allowed origin cannot place calls for another merchant: the browser's Origin is checked, not only pageUrl", async () => {
    const r = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: shop.origin },
      body: JSON.stringify({
        query: `mutation($i: DownloadInput!) { recordDownload(input: $i) { callId } }`,
        variables: { i: { merchantId: other.merchant, linkId: other.link, pageUrl: 'https://other.example/p/1' } },
      }),
    });
    const body = (await r.json()) as { errors?: Array<{ extensions: { code: string }; message: string }> };
    assert.equal(r.headers.get('access-control-allow-origin'), shop.origin, 'CORS allows the origin: it is some merchant\'s');
    assert.equal(body.errors?.[0]?.extensions.code, 'FORBIDDEN');
    assert.match(body.errors![0]!.message, new RegExp(`downloads from ${shop.origin.replace(/\./g, '\\.')} are not allowed`));
    assert.equal(await calls(other.merchant), 0);
  });

  test('CORS headers: Vary: Origin always; preflight allowed for the widget, refused for keys and strangers; CSRF guard still on', async () => {
    const preflight = (origin: string, headers = 'content-type') =>
      fetch(server.url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers } });
    const ok = await preflight(shop.origin);
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), shop.origin);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /content-type/);
    assert.match(ok.headers.get('vary') ?? '', /Origin/i);
    const keyed = await preflight(shop.origin, 'content-type, authorization');
    assert.equal(keyed.status, 403);
    assert.equal(keyed.headers.get('access-control-allow-origin'), null);
    assert.match(await keyed.text(), /authorization/);
    const strange = await preflight(stranger.origin);
    assert.equal(strange.status, 403);
    assert.equal(strange.headers.get('access-control-allow-origin'), null);
    assert.match(strange.headers.get('vary') ?? '', /Origin/i);
    // A "simple" cross-site POST (no preflight) is still blocked by Apollo's CSRF prevention.
    const simple = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'text/plain', origin: stranger.origin }, body: '{"query":"{ __typename }"}' });
    assert.equal(simple.status, 400);
    const same = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    assert.match(same.headers.get('vary') ?? '', /Origin/i);
    assert.equal(same.headers.get('access-control-allow-origin'), null);
  });
});
