// Shared helpers for the end-to-end tests: start our tracker (which serves the repository as
// the page's static root) on a free loopback port and drive headless browsers: Chromium with
// playwright-core, Firefox with puppeteer-core over WebDriver BiDi (Playwright cannot drive
// stock Firefox). Every peer gets its own isolated browser context: pages of one context share
// storage, so two peers there could find each other's pieces without any transfer.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(ROOT, 'tests/e2e/artifacts');

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage',
  // Host candidates as plain IPs (no mDNS .local names, which headless Chromium here cannot
  // resolve), and loopback allowed, so data channels open between pages on one machine.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--allow-loopback-in-peer-connection',
  // Pages in the background must not be throttled while they transfer.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** Starts target/release/tabswarm-tracker on 127.0.0.1 and an ephemeral port. */
export async function startTracker({ staticDir = ROOT, args = [], env = {} } = {}) {
  const bin = path.join(ROOT, 'target/release/tabswarm-tracker');
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/build.sh first`);
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--static-dir', staticDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tracker did not start:\n${log}`)), 15000);
    const onData = (chunk) => {
      log += chunk;
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`tracker exited (${code}):\n${log}`)); });
  });
  return {
    url,
    announce: url.replace(/^http/, 'ws') + '/announce',
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The browsers the tests run in; E2E_BROWSER picks the one of a single-browser run. */
export const BROWSERS = ['chromium', 'firefox'];
export const browserKind = () => process.env.E2E_BROWSER || 'chromium';

/**
 * Firefox's preferences for the tests: host candidates as plain IPs (no mDNS names), so data
 * channels open between pages on one machine without a STUN server.
 */
export const FIREFOX_PREFS = {
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.peerconnection.ice.loopback': true,
  'dom.min_background_timeout_value': 4,
};

/**
 * Launches a headless browser: `kind` 'chromium' (Debian's /usr/bin/chromium, playwright-core)
 * or 'firefox' (Debian's firefox-esr, puppeteer-core). Both answer newContext() with an
 * isolated context whose newPage() gives a page with evaluate, on('console'|'pageerror'),
 * goto and context(): what openPeer and the peer tests use.
 */
export async function launchBrowser(extraArgs = [], kind = browserKind()) {
  if (kind === 'firefox') return launchFirefox(extraArgs);
  if (kind !== 'chromium') throw new Error(`unknown browser ${kind}: one of ${BROWSERS.join(', ')}`);
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

async function launchFirefox(extraArgs) {
  const ff = await puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
    args: extraArgs,
    extraPrefsFirefox: FIREFOX_PREFS,
  });
  return {
    async newContext() {
      const context = await ff.createBrowserContext();
      return {
        async newPage() {
          const page = await context.newPage();
          page.context = () => context;
          return page;
        },
        close: () => context.close(),
      };
    },
    close: () => ff.close(),
  };
}

/**
 * Opens `url` in a new isolated context of `browser` (`init`: a script for its pages to run
 * first; Chromium only). Console errors and page errors are
 * collected in `page.errors`, uncaught exceptions and unhandled rejections alone in
 * `page.uncaught`, so tests can assert there were none.
 */
export async function openPeer(browser, url, { name = 'peer', init } = {}) {
  const context = await browser.newContext({ acceptDownloads: true });
  // `init` runs in every page of the context before its scripts (Playwright's addInitScript).
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.errors = [];
  page.uncaught = [];
  page.on('pageerror', (e) => {
    page.errors.push(`${name}: ${e.message}`);
    page.uncaught.push(`${name}: ${e.message}`);
  });
  page.on('console', (m) => {
    if (process.env.E2E_VERBOSE) console.log(`[${name}] ${m.type()}: ${m.text()}`);
    if (m.type() === 'error') page.errors.push(`${name}: ${m.text()}`);
  });
  await page.goto(url);
  return page;
}

export function screenshotPath(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}
