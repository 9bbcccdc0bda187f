// The Temporal UI as a manager sees it: run by uicheck/run.sh once an overdue case exists.
//
// Opens the workflow list filtered by the saved overdue query (workflows/queries.go,
// QueryOverdue), waits for the case's row, screenshots the list, opens the case, waits for its
// summary and current details to show DECODED (the UI decodes them through Homeward's /codec
// endpoint), screenshots that, and fails with a clear message otherwise. Everything the browser
// says (console, page errors, failed requests, every /codec call) goes to out/console.log.
import { chromium } from 'playwright-core';
import { writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run uicheck/run.sh)`);
  return v;
};
const UI = env('UICHECK_UI_URL').replace(/\/$/, '');
const OUT = env('UICHECK_OUT');
const WORKFLOW_ID = env('UICHECK_WORKFLOW_ID');
const REFERENCE = env('UICHECK_REFERENCE');
const CASE_UI_URL = process.env.UICHECK_CASE_UI_URL || '';
// A second case that has moved on from counselling: it must NOT be in the overdue list.
const NOT_OVERDUE_ID = process.env.UICHECK_NOT_OVERDUE_WORKFLOW_ID || '';
const NAMESPACE = 'default';
// workflows.QueryOverdue, as README.md lists it under "Saved queries for managers".
const QUERY = 'Overdue = true AND ExecutionStatus = "Running"';
// What workflows/steps.go details() writes for a case in counselling past its due date.
const DETAILS_MUST_SHOW = ['OVERDUE', 'Counselling', 'caseworker', REFERENCE];
const DEBUG = process.env.UICHECK_DEBUG === '1';
const TIMEOUT = Number(process.env.UICHECK_TIMEOUT_MS || 60000);

const log = join(OUT, 'console.log');
writeFileSync(log, `# ui-check browser log: ${new Date().toISOString()}\n# UI ${UI}, workflow ${WORKFLOW_ID}\n`);
const note = (line) => appendFileSync(log, `${new Date().toISOString()} ${line}\n`);
const say = (msg) => console.log(`ui-check: ${msg}`);

class CheckFailed extends Error {}
const fail = (msg) => {
  throw new CheckFailed(msg);
};

const codecCalls = []; // {url, method, status, origin, request, response}
const listCalls = []; // the UI's visibility requests (URL with its query)
const consoleErrors = [];
let codecRequests = 0; // requests the page made to /codec (preflights are not counted)
const codecFailures = []; // requests to /codec the browser gave up on (CORS, connection)

const browser = await chromium.launch({
  executablePath: process.env.UICHECK_CHROMIUM || '/usr/bin/chromium',
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
let exitCode = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, timezoneId: 'UTC', locale: 'en-GB' });
  // The columns a manager would pick with the list's gear button (UI 2.42 keeps them in
  // localStorage): where each overdue case stands, whom it waits on, and since/until when.
  const columns = ['Status', 'Workflow ID', 'CaseStage', 'WaitingOn', 'StageEnteredAt', 'StageDueAt', 'Overdue',
    'ReceivingOffice', 'Vulnerable'].map((label) => ({ label }));
  await context.addInitScript((cols) => {
    if (!localStorage.getItem('namespace-workflow-table-columns')) {
      localStorage.setItem('namespace-workflow-table-columns', JSON.stringify({ default: cols }));
    }
  }, columns);
  const page = await context.newPage();

  page.on('console', (m) => {
    note(`console.${m.type()}: ${m.text()}`);
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => {
    note(`pageerror: ${e.message}`);
    consoleErrors.push(e.message);
  });
  page.on('requestfailed', (r) => {
    note(`requestfailed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
    if (r.url().includes('/codec')) codecFailures.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on('request', async (r) => {
    const u = r.url();
    if (u.includes('/codec')) codecRequests++;
    if (u.includes('/codec')) note(`codec request: ${r.method()} ${u} origin=${(await r.headerValue('origin').catch(() => null)) ?? '-'}`);
    if (/\/api\/v1\/namespaces\/[^/]+\/workflows(\?|$)/.test(u)) {
      listCalls.push(u);
      note(`list request: ${u}`);
    }
  });
  let nSaved = 0;
  page.on('response', async (res) => {
    const u = res.url();
    if (DEBUG && u.startsWith(`${UI}/api/`)) {
      // UICHECK_DEBUG=1 keeps what the UI server answered, to see which payloads it shows as is.
      const body = await res.text().catch(() => '');
      writeFileSync(join(OUT, `ui-api-${String(++nSaved).padStart(3, '0')}.txt`), `${res.request().method()} ${u} -> ${res.status()}\n\n${body}`);
    }
    if (res.status() >= 400) note(`http ${res.status()}: ${res.request().method()} ${u}`);
    if (!u.includes('/codec')) return;
    const req = res.request();
    const call = { url: u, method: req.method(), status: res.status(), origin: (await req.headerValue('origin').catch(() => null)) ?? '' };
    if (req.method() === 'POST') {
      call.request = (req.postData() || '').slice(0, 300);
      try {
        call.response = (await res.text()).slice(0, 300);
      } catch (e) {
        call.response = `(unreadable: ${e.message})`;
      }
    }
    codecCalls.push(call);
    note(`codec response: ${call.method} ${u} -> ${call.status} acao=${res.headers()['access-control-allow-origin'] ?? '-'}`);
  });

  // --- the list, filtered by the saved overdue query ------------------------------------------
  const listURL = `${UI}/namespaces/${NAMESPACE}/workflows?query=${encodeURIComponent(QUERY)}`;
  say(`opening ${listURL}`);
  await page.goto(listURL, { waitUntil: 'domcontentloaded' });
  const row = page.locator(`a[href*="/workflows/${encodeURIComponent(WORKFLOW_ID)}"]`).first();
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    try {
      await row.waitFor({ state: 'visible', timeout: 5000 });
      break;
    } catch {
      if (Date.now() > deadline) {
        await page.screenshot({ path: join(OUT, 'overdue-list.png'), fullPage: true });
        fail(`the workflow list filtered by ${QUERY} does not show ${WORKFLOW_ID} within ${TIMEOUT / 1000} s (see out/overdue-list.png)`);
      }
      await page.reload({ waitUntil: 'domcontentloaded' }); // visibility is eventually consistent
    }
  }
  // The list the UI asked Temporal for must be the filtered one, not every workflow.
  const filtered = listCalls.some((u) => decodeURIComponent(u.replace(/\+/g, ' ')).includes('Overdue = true'));
  if (!filtered) fail(`the UI did not ask Temporal for the overdue query; its list requests were:\n  ${listCalls.join('\n  ') || '(none)'}`);
  await page.waitForTimeout(1000); // let it settle (not 'networkidle': the UI long-polls the history)
  // The filter chips show "Overdue =" without its value (UI 2.42 with a Bool attribute); switch
  // the filter bar to the query as text, so that the screenshot says which query it is.
  const manual = page.getByTestId('toggle-manual-query');
  if (await manual.isVisible().catch(() => false)) {
    await manual.click();
    await page.waitForFunction(
      (q) => [...document.querySelectorAll('input, textarea')].some((e) => e.value.includes(q) && e.checkVisibility({ opacityProperty: true })),
      'Overdue = true', { timeout: 5000 },
    ).catch(() => note('the query text did not show after toggle-manual-query'));
    await page.waitForTimeout(700); // its slide-in
  }
  await page.getByRole('button', { name: 'Collapse saved views' }).click({ timeout: 2000 }).catch(() => {}); // room for the columns
  await page.waitForTimeout(300);
  const rowText = await page.locator('tr', { has: row }).first().innerText().catch(() => '');
  note(`the case's row: ${rowText.replace(/\s+/g, ' ')}`);
  if (!rowText.includes('Counselling')) note('the row does not show CaseStage "Counselling" (custom columns not applied?)');
  if (NOT_OVERDUE_ID && (await page.locator(`a[href*="/workflows/${encodeURIComponent(NOT_OVERDUE_ID)}"]`).count()) > 0) {
    await page.screenshot({ path: join(OUT, 'overdue-list.png'), fullPage: true });
    fail(`the overdue list also shows ${NOT_OVERDUE_ID}, a case that is not overdue (see out/overdue-list.png)`);
  }
  const codecStatus = await page.locator('[data-testid^="data-encoder-status"]').first().getAttribute('aria-label').catch(() => null);
  note(`data encoder status in the UI's top bar: ${codecStatus ?? '(not found)'}`);
  await page.screenshot({ path: join(OUT, 'overdue-list.png'), fullPage: true });
  say(`the overdue list shows ${WORKFLOW_ID} (out/overdue-list.png)`);

  // --- the case's page -------------------------------------------------------------------------
  await row.click();
  await page.waitForURL((u) => u.pathname.includes(`/workflows/${encodeURIComponent(WORKFLOW_ID)}`), { timeout: TIMEOUT });
  say(`opened ${page.url()}`);
  // UI 2.42 shows the static summary and the current details (fetched with the
  // __temporal_workflow_metadata query, then decoded) under the "User Metadata" tab.
  const tab = page.getByRole('link', { name: 'User Metadata' }).or(page.getByRole('tab', { name: 'User Metadata' })).first();
  await tab.waitFor({ state: 'visible', timeout: TIMEOUT });
  await tab.click();
  // The UI renders the summary and the details (markdown) in sandboxed iframes: read every frame.
  const pageText = async () => {
    const parts = [];
    for (const f of page.frames()) {
      parts.push(await f.locator('body').innerText({ timeout: 2000 }).catch(() => ''));
    }
    return parts.join('\n');
  };
  let text = '';
  const until = Date.now() + TIMEOUT;
  while (Date.now() < until) {
    text = await pageText();
    if (DETAILS_MUST_SHOW.every((s) => text.includes(s))) break;
    await page.waitForTimeout(1000);
  }
  await page.waitForTimeout(1000); // let it settle (not 'networkidle': the UI long-polls the history)
  await page.screenshot({ path: join(OUT, 'case-details.png'), fullPage: true });
  for (const el of await page.locator('iframe').elementHandles()) {
    const box = await el.boundingBox();
    const f = await el.contentFrame();
    const inner = f ? await f.evaluate(() => document.documentElement.scrollHeight).catch(() => null) : null;
    const shows = f ? await f.locator('body').innerText().catch(() => '') : '';
    if (inner && box && inner > box.height + 1) {
      // UI 2.42.1 sizes the markdown iframe by body.scrollHeight, which leaves out the body's
      // margin and the collapsed margins of the first and last blocks: the bottom gets cut.
      say(`WARNING: the UI cuts off the bottom of a markdown panel (${Math.round(box.height)} px shown of ${inner} px): "${shows.trim().split('\n').pop()}"`);
    }
    if (box && shows.includes('OVERDUE')) {
      await page.screenshot({ path: join(OUT, 'case-current-details.png'), clip: { x: box.x - 8, y: box.y - 50, width: box.width + 16, height: Math.max(box.height, inner || 0) + 60 } });
    }
    if (DEBUG && f) note(`iframe detail: ${await f.evaluate(() => JSON.stringify({ bodyScrollHeight: document.body.scrollHeight, bodyMargin: getComputedStyle(document.body).margin, html: document.body.innerHTML.slice(0, 1500) })).catch((e) => e.message)}`);
    note(`iframe ${box ? `${Math.round(box.width)}x${Math.round(box.height)}` : '(hidden)'}, content height ${inner}${inner && box && inner > box.height + 1 ? ' (CLIPPED)' : ''}`);
  }
  text = await pageText();
  writeFileSync(join(OUT, 'case-page.txt'), text);

  const missing = DETAILS_MUST_SHOW.filter((s) => !text.includes(s));
  const summary = `${REFERENCE} · DE → GN`;
  if (!text.includes(summary)) missing.push(`summary "${summary}"`);
  if (missing.length) {
    const tally = (xs) => {
      const m = new Map();
      for (const x of xs) m.set(x, (m.get(x) || 0) + 1);
      return [...m].map(([x, n]) => `${n} x ${x}`);
    };
    const why = [];
    if (/Decoding failed|No summary available|No Current Details/.test(text)) {
      why.push('The UI shows "Decoding failed" / "No summary available" / "No Current Details": it could not decode the payloads.');
    }
    if (codecRequests === 0) {
      why.push('The page never called /codec: the UI was not given a codec endpoint (temporal server start-dev --ui-codec-endpoint).');
    } else if (codecFailures.length && consoleErrors.some((e) => e.includes('CORS'))) {
      why.push(`The browser blocked ${codecFailures.length} of ${codecRequests} calls to /codec by CORS: the endpoint did not allow the origin ${UI} ` +
        '(HOMEWARD_CODEC_UI_ORIGIN must be exactly the UI\'s origin, scheme, host and port).');
    } else if (codecCalls.some((c) => c.status === 401 || c.status === 403)) {
      why.push('/codec refused the UI (401/403): in dev mode the loopback UI is trusted only without an Authorization header and with exactly the allowed Origin.');
    }
    fail(
      `the case's page does not show ${missing.join(', ')} (see out/case-details.png, out/case-page.txt).\n` +
        (why.length ? `${why.join('\n')}\n` : '') +
        `Calls to /codec: ${codecRequests} made, ${codecCalls.length} answered, ${codecFailures.length} failed in the browser\n  ` +
        [...tally(codecCalls.map((c) => `${c.method} ${c.url} -> ${c.status} (Origin ${c.origin || '-'})`)), ...tally(codecFailures)].join('\n  ') +
        `\nConsole errors:\n  ${tally(consoleErrors.map((e) => e.split('\n')[0])).join('\n  ') || '(none)'}`,
    );
  }
  const decodes = codecCalls.filter((c) => c.method === 'POST' && c.status === 200);
  if (!decodes.length) fail('the details show, but no /codec decode succeeded: were they stored unencrypted?');
  say(`the case's page shows its summary and decoded current details (${decodes.length} codec decodes; out/case-details.png)`);
  if (CASE_UI_URL && !CASE_UI_URL.startsWith(UI)) fail(`the API's workflow.ui_url ${CASE_UI_URL} does not point into this UI (${UI})`);
} catch (e) {
  exitCode = 1;
  console.error(`ui-check: FAIL: ${e instanceof CheckFailed ? e.message : e.stack || e}`);
  note(`FAIL: ${e.message}`);
} finally {
  note(`codec calls: ${JSON.stringify(codecCalls, null, 1)}`);
  await browser.close();
}
process.exit(exitCode);
