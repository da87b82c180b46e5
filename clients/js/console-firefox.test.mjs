// The web console in headless Firefox (Debian's firefox-esr, driven over WebDriver BiDi by
// puppeteer-core): the token prompt, an operation made with the SDK appearing live, advanced to
// its end with a button, the resource tree following, a narrow window, and no error in the
// browser console. The Chromium suite (console.test.mjs) covers every action; this one proves the
// page runs in the other engine.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { ServiceDiscovery } from '@aws-sdk/client-servicediscovery';
import puppeteer from 'puppeteer-core';
import { CREDENTIALS, REGION, startLocalplane } from './localplane.mjs';

const FIREFOX = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';
const TOKEN = 'firefox-console-token';
const WAIT = { timeout: 15_000 };

let server;
let browser;
let page;
const errors = [];

before(async () => {
  try {
    accessSync(FIREFOX, constants.X_OK);
  } catch {
    throw new Error(`no Firefox at ${FIREFOX}: install Debian's firefox-esr package (scripts/test does) or set FIREFOX_PATH`);
  }
  server = await startLocalplane({ timing: 'manual', args: ['--admin-token', TOKEN] });
  browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
  page = await browser.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warn') errors.push(`${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const textOf = (selector) => page.$eval(selector, (el) => el.textContent);

describe('web console in headless Firefox', () => {
  test('token, a live operation advanced to its end from the page, the tree, a narrow window', async () => {
    await page.goto(`${server.endpoint}/_localplane/ui`);
    await page.waitForSelector('#token-form:not([hidden]) #token', WAIT);
    await page.type('#token', TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#status[data-kind="live"]', WAIT);

    const sd = new ServiceDiscovery({
      region: REGION,
      endpoint: server.endpoint,
      credentials: CREDENTIALS,
      disableHostPrefix: true,
      maxAttempts: 1,
    });
    const { OperationId } = await sd.createHttpNamespace({ Name: 'firefox-demo' });
    const inFlight = `#in-flight li[data-op-id="${OperationId}"]`;
    await page.waitForSelector(inFlight, WAIT);
    assert.match(await textOf(`${inFlight} .op-type`), /CREATE_NAMESPACE/);
    await page.waitForSelector('#resources .kind-namespace[data-state="CREATING"]', WAIT);

    await page.click(`${inFlight} button[data-key="end:${OperationId}"]`);
    await page.waitForSelector(`#recent li[data-op-id="${OperationId}"][data-state="SUCCESS"]`, WAIT);
    await page.waitForSelector('#resources .kind-namespace[data-state="ACTIVE"]', WAIT);
    const { Operation } = await sd.getOperation({ OperationId });
    assert.equal(Operation.Status, 'SUCCESS', 'the SDK sees what the page did');

    // Every view has its URL; a narrow window scrolls no sideways.
    await page.goto(`${server.endpoint}/_localplane/ui#/operations/${encodeURIComponent(OperationId)}`);
    await page.waitForSelector(`li[data-op-id="${OperationId}"]`, WAIT);
    await page.setViewport({ width: 380, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 380px window`);
    assert.deepEqual(errors, [], errors.join('\n'));
  });
});
