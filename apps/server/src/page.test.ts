/**
 * The web page in a real browser: Debian's Chromium (/usr/bin/chromium, installed by
 * scripts/install-browser.sh) driven by playwright-core. Skipped, saying so, only when that
 * binary is absent.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import sharp from 'sharp';
import { makeJpeg, writeTemp } from '@semclip/test-kit/images';
import { sharedData } from '@semclip/test-kit/shared-data';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { startTestServer } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
// A real 4032x3024 photo with a small wait-time sign (shared data, never copied into the repo).
const PHOTO = sharedData('images/queue_time.jpg');

if (!hasChromium) {
  console.warn(`page.test.ts: skipped: ${CHROMIUM} is absent. Install it with apps/server/scripts/install-browser.sh (apt-get install chromium).`);
}

describe.skipIf(!hasChromium)(`the web page in Chromium${hasChromium ? '' : ' (skipped: /usr/bin/chromium is absent)'}`, () => {
  let browser: BrowserContext;
  let profile: string;
  let fake: FakeOpenAI;
  let t: TestServer;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ behaviour: { respond: () => 'The stand-by wait time is 15 minutes.' } });
    t = await startTestServer({ vlm: `openai:${fake.url}#llava-1.5-7b`, grid: '2x2' });
    profile = await mkdtemp(join(tmpdir(), 'semclip-chromium-'));
    // A fresh profile per run (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fake?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('uploads an image, asks, and shows the overlay, the crop and the answer', async () => {
    const image = existsSync(PHOTO) ? PHOTO : await writeTemp('page-photo.jpg', await makeJpeg({ width: 2400, height: 1800, pattern: 'quadrants' }));
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1440, height: 1000 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${t.url}/`);
    await expectLocator(page.locator('#caps')).toContainText('llava-1.5-7b');
    await expectLocator(page.locator('#submit')).toHaveText('Ask');
    expect(await page.locator('#submit').isDisabled()).toBe(true);

    await page.setInputFiles('#file', image);
    await page.fill('#question', 'What is the wait time for the stand-by line?');
    await page.locator('#submit').click();
    await page.locator('#overlay').waitFor({ state: 'visible', timeout: 30_000 });

    await expectLocator(page.locator('#answer')).toHaveText('The stand-by wait time is 15 minutes.');
    expect(await page.locator('#crops img').count()).toBe(1);
    expect(await page.locator('#scores tbody tr').count()).toBe(4);
    expect(await page.locator('#scores tbody tr.sel').count()).toBe(1);
    // The overlay is the server's PNG, decoded by the browser at full size.
    const size = await page
      .locator('#overlay')
      .evaluate((img) => [(img as unknown as { naturalWidth: number }).naturalWidth, (img as unknown as { naturalHeight: number }).naturalHeight]);
    expect(size[0]).toBeGreaterThan(600);
    expect(errors).toEqual([]);
    expect(fake.requests[0]?.images).toHaveLength(2);

    const shot = join(process.env.SEMCLIP_SCREENSHOT_DIR ?? tmpdir(), 'semclip-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    const meta = await sharp(shot).metadata();
    expect(meta.width).toBe(1440);
    await page.close();
  });

  it("shows the server's error message for a broken image", async () => {
    const broken = await writeTemp('page-broken.jpg', (await makeJpeg({ width: 800, height: 600, pattern: 'noise' })).subarray(0, 3000));
    const page = await browser.newPage();
    await page.goto(`${t.url}/`);
    await page.setInputFiles('#file', broken);
    await page.fill('#question', 'Anything?');
    await page.locator('#submit').click();
    await expectLocator(page.locator('#error')).toContainText('IMAGE_TRUNCATED');
    await page.close();
  });

  it('clears the previous answer after an error and shows no broken image', async () => {
    // Not an image at all: the browser cannot draw it and the server refuses it.
    const broken = await writeTemp('page-not-an-image.jpg', new TextEncoder().encode('this is not a JPEG, only text with a .jpg name\n'.repeat(20)));
    const page = await browser.newPage();
    await page.goto(`${t.url}/`);
    const image = existsSync(PHOTO) ? PHOTO : await writeTemp('page-photo.jpg', await makeJpeg({ width: 2400, height: 1800, pattern: 'quadrants' }));
    await page.setInputFiles('#file', image);
    await page.fill('#question', 'What is the wait time?');
    await page.locator('#submit').click();
    await expectLocator(page.locator('#answer')).toHaveText('The stand-by wait time is 15 minutes.');

    await page.setInputFiles('#file', broken);
    await page.locator('#submit').click();
    await expectLocator(page.locator('#error')).toContainText('IMAGE_');
    // The old answer, overlay and crops are gone; the error is all that is shown.
    expect(await page.locator('#results').innerHTML()).toBe('');
    expect(await page.locator('#answer').count()).toBe(0);
    // The chosen file could not be drawn: a note instead of an <img> the browser shows as broken.
    await expectLocator(page.locator('#previewNote')).toContainText('No preview');
    const brokenImages = await page
      .locator('img')
      .evaluateAll(
        (imgs) => imgs.filter((i) => (i as { complete: boolean; naturalWidth: number }).complete && (i as { naturalWidth: number }).naturalWidth === 0).length,
      );
    expect(brokenImages).toBe(0);
    await page.close();
  });
});

// Vitest's expect has no toHaveText; a tiny adapter keeps the assertions readable.
function expectLocator(locator: { textContent(): Promise<string | null> }) {
  return {
    async toHaveText(text: string) {
      const deadline = Date.now() + 10_000;
      let last: string | null = null;
      while (Date.now() < deadline) {
        last = (await locator.textContent())?.trim() ?? null;
        if (last === text) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`expected text ${JSON.stringify(text)}, got ${JSON.stringify(last)}`);
    },
    async toContainText(text: string) {
      const deadline = Date.now() + 10_000;
      let last: string | null = null;
      while (Date.now() < deadline) {
        last = (await locator.textContent()) ?? null;
        if (last?.includes(text)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`expected text containing ${JSON.stringify(text)}, got ${JSON.stringify(last)}`);
    },
  };
}
