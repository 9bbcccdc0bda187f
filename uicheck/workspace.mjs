// The workspace as people use it: one whole case through the pages only, in headless Debian
// Chromium driven by playwright-core, against `homeward dev` with the simulator (run by
// uicheck/workspace.sh). A caseworker registers a return (seeing a field error first), counsels
// and screens it; the simulator's medical result and the booking appear; the caseworker records
// the departure and writes a plan, checked before it is submitted; an approver opens it from their
// own inbox and approves; procurement records the delivery; the case shows its monitoring visits.
// A caseworker of another office searches for the person and finds nothing. axe-core checks each
// main page for serious accessibility violations. Screenshots of each step go to out/workspace/.
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';

const BASE = (process.env.WORKSPACE_URL || '').replace(/\/$/, '');
const OUT = process.env.WORKSPACE_OUT;
if (!BASE || !OUT) throw new Error('WORKSPACE_URL and WORKSPACE_OUT must be set (run uicheck/workspace.sh)');
const TIMEOUT = Number(process.env.UICHECK_TIMEOUT_MS || 60000);
mkdirSync(OUT, { recursive: true });
const log = join(OUT, 'browser.log');
writeFileSync(log, `# workspace check: ${new Date().toISOString()} against ${BASE}\n`);
const note = (line) => appendFileSync(log, `${new Date().toISOString()} ${line}\n`);
const say = (msg) => console.log(`workspace-check: ${msg}`);
class CheckFailed extends Error {}
const fail = (msg) => { throw new CheckFailed(msg); };

const browser = await chromium.launch({
  executablePath: process.env.UICHECK_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

let shot = 0;
const a11y = []; // {page, violations}
const problems = []; // console errors and failed requests, from every page

// person signs one dev person in, in their own browser context (their own cookies).
async function person(user, lang = 'en-GB') {
  const context = await browser.newContext({ locale: lang, extraHTTPHeaders: { 'Accept-Language': lang } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  // A refused form answers 4xx on purpose (422, 404 for another office): the browser logs
  // that as an error, which is no problem; anything else the console says is.
  const expected = /^Failed to load resource: the server responded with a status of 4\d\d/;
  page.on('console', (m) => {
    note(`${user} console ${m.type()}: ${m.text()}`);
    if (m.type() === 'error' && !expected.test(m.text())) problems.push(`${user}: console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${user}: page error: ${e.message}`));
  // A request the page dropped as it navigated away (ERR_ABORTED) did not fail.
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText || '';
    note(`${user} request failed: ${r.url()} ${why}`);
    if (!why.includes('ERR_ABORTED')) problems.push(`${user}: request failed: ${r.url()} ${why}`);
  });
  await page.goto(`${BASE}/`);
  if (!page.url().endsWith('/signin')) fail(`${user}: / did not send a signed-out person to /signin (at ${page.url()})`);
  await page.getByRole('button', { name: new RegExp(`^${user}\\b`) }).click();
  await page.waitForURL(`${BASE}/`);
  return { user, context, page };
}

async function snap(p, name) {
  shot += 1;
  const file = join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`);
  await p.page.screenshot({ path: file, fullPage: true });
  note(`screenshot ${file}`);
}

// axe checks the page; serious and critical violations fail the check at the end.
async function accessible(p, name) {
  const result = await new AxeBuilder({ page: p.page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  note(`axe ${name}: ${result.violations.length} violations, ${bad.length} serious or critical`);
  for (const v of result.violations) note(`  axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')})`);
  a11y.push({ name, bad });
}

// until reloads the page until the locator shows (the workflow moves on its own).
async function until(p, what, locator, seconds = 90) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (await locator.count() > 0 && await locator.first().isVisible()) return;
    if (Date.now() > deadline) {
      await snap(p, `timeout-${what.replace(/\W+/g, '-')}`);
      fail(`${p.user}: ${what} did not show within ${seconds} s (stage: ${await p.page.locator('#case-stage').textContent().catch(() => '?')})`);
    }
    await p.page.waitForTimeout(700);
    await p.page.reload();
  }
}

const expectText = async (p, locator, re, what) => {
  const t = (await locator.first().textContent()) || '';
  if (!re.test(t)) fail(`${p.user}: ${what}: expected ${re}, found ${JSON.stringify(t.trim().slice(0, 200))}`);
};

try {
  // 1. A caseworker of the sending office signs in and registers a return.
  const cw = await person('caseworker-de');
  await snap(cw, 'my-work-caseworker');
  await accessible(cw, 'my work');
  await cw.page.getByRole('link', { name: 'Register a return' }).click();
  const f = cw.page;
  await f.getByLabel('Given name', { exact: true }).first().fill('Aminata');
  await f.getByLabel('Family name', { exact: true }).first().fill('Camara');
  await f.locator('#beneficiary-date_of_birth').fill('1990-04-01');
  await f.locator('#beneficiary-sex').selectOption('female');
  await f.locator('#beneficiary-nationality').fill('GN');
  await f.locator('#beneficiary-languages').fill('fr, sus');
  await f.locator('#beneficiary-phone').fill('0621 234'); // no country code: a field error
  await f.locator('#beneficiary-travel_document-number').fill('GN-12 345 678');
  await f.locator('#beneficiary-travel_document-expiry').fill('2030-01-31');
  await f.getByRole('button', { name: 'Add a household member' }).click();
  await f.locator('#household-0-given_name').fill('Mariama');
  await f.locator('#household-0-relationship').selectOption('child');
  await f.locator('#household-0-date_of_birth').fill('2016-02-11');
  await f.getByLabel('Health needs (escort)').check();
  await f.locator('#country_of_return').fill('GN');
  await f.locator('#area_of_return-region').fill('Kankan');
  await f.locator('#area_of_return-district').fill('Siguiri');
  await f.locator('#receiving_office').fill('GN-CKY');
  await f.locator('#programme').selectOption('REAG-GARP');
  await f.getByLabel(/consent to the processing/).check();
  await f.getByRole('button', { name: 'Register the return' }).last().click();
  // The shared validation refuses the phone: the summary links to the field, the message is beside it.
  await f.locator('.error-summary').waitFor();
  await expectText(cw, f.locator('.error-summary'), /Phone/, 'the error summary names the field');
  await expectText(cw, f.locator('#beneficiary-phone-error'), /E\.164/, 'the message beside the phone');
  if ((await f.locator('#beneficiary-phone').getAttribute('aria-invalid')) !== 'true') fail('the phone is not marked invalid');
  if ((await f.locator('#household-0-given_name').inputValue()) !== 'Mariama') fail('the household row was lost on the refused form');
  await snap(cw, 'register-field-error');
  await accessible(cw, 'registration with an error');
  await f.locator('#beneficiary-phone').fill('+224621234567');
  await f.getByRole('button', { name: 'Register the return' }).last().click();
  await f.waitForURL(/\/cases\/[0-9a-f-]{36}$/);
  const caseURL = f.url();
  const reference = (await f.locator('h1').textContent()).trim().split(/\s/)[0];
  if (!/^HW-\d{4}-\d+/.test(reference)) fail(`no reference on the case page: ${reference}`);
  say(`registered ${reference}`);
  await expectText(cw, f.locator('.flash'), /registered/, 'the registration is confirmed');
  await snap(cw, 'case-registered');
  await accessible(cw, 'case page');

  // 2. Counselling and screening, the forms the workflow offers.
  await until(cw, 'the counselling form', f.locator('#form-counselling'));
  await f.locator('#form-counselling').getByLabel(/voluntary and informed/).check();
  await f.locator('#form-counselling #notes').fill('Return explained; she confirms in French.');
  await f.locator('#form-counselling').getByRole('button').click();
  await expectText(cw, f.locator('.flash'), /counselling is recorded/, 'counselling recorded');
  await until(cw, 'the screening form', f.locator('#form-screening'));
  await f.locator('#form-screening').getByLabel('low').check();
  await f.locator('#form-screening').getByRole('button').click();
  await expectText(cw, f.locator('.flash'), /screening is recorded/, 'screening recorded');
  await snap(cw, 'case-screened');

  // 3. The simulator's medical result comes back; the flight is held and ticketed.
  await until(cw, 'the departure form (medical result, ticketed flight)', f.locator('#form-departure'));
  await expectText(cw, f.locator('#medical-result'), /fit/, 'the medical result shows');
  await snap(cw, 'case-ticketed');
  await f.locator('#form-departure').getByRole('button').click();
  await expectText(cw, f.locator('.flash'), /departure is recorded/, 'departure recorded');

  // 4. The arrival the receiving office sent takes effect; the plan, checked, then submitted.
  await until(cw, 'the plan editor (arrival confirmed)', f.locator('#form-plan'));
  await expectText(cw, f.locator('#arrival'), /\d/, 'the arrival shows');
  await f.locator('#items-0-dimension').selectOption('economic');
  await f.locator('#items-0-kind').selectOption('cash');
  await f.locator('#items-0-description').fill('start-up cash grant');
  await f.locator('#items-0-cost-amount').fill('400');
  await f.locator('#items-1-dimension').selectOption('economic');
  await f.locator('#items-1-kind').selectOption('in_kind');
  await f.locator('#items-1-description').fill('sewing machine');
  await f.locator('#items-1-cost-amount').fill('900');
  await expectText(cw, f.locator('[data-total]'), /1300\.00/, 'the running total');
  await snap(cw, 'plan-editor');
  await f.getByRole('button', { name: 'Check the plan' }).click();
  await expectText(cw, f.locator('#review-total'), /1300\.00 EUR/, 'the plan to check');
  await snap(cw, 'plan-check');
  await f.getByRole('button', { name: 'Submit the plan to the approvers' }).click();
  await expectText(cw, f.locator('.flash'), /plan is submitted/, 'plan submitted');

  // 5. An approver of the receiving office finds it in their inbox and approves.
  const ap = await person('approver-gn');
  await until(ap, 'the case in the approver inbox', ap.page.getByRole('link', { name: reference }));
  await snap(ap, 'approver-inbox');
  await ap.page.getByRole('link', { name: reference }).click();
  await ap.page.locator('#form-decision').getByLabel('Approve').check();
  await ap.page.locator('#form-decision #comment').fill('Within the cap.');
  await ap.page.locator('#form-decision').getByRole('button').click();
  await expectText(ap, ap.page.locator('.flash'), /decision is recorded/, 'decision recorded');
  await snap(ap, 'plan-approved');

  // 6. Procurement records the delivery of the in-kind item.
  const pr = await person('procurement-gn');
  await pr.page.goto(caseURL);
  await until(pr, 'the delivery form of p1-2', pr.page.locator('#form-delivery-p1-2'));
  await pr.page.locator('#form-delivery-p1-2 #handover_certificate').fill('HC-2026-0042');
  await snap(pr, 'delivery-form');
  await pr.page.locator('#form-delivery-p1-2').getByRole('button').click();
  await expectText(pr, pr.page.locator('.flash'), /delivery is recorded/, 'delivery recorded');

  // 7. The case is in monitoring, with its visits.
  await f.goto(caseURL);
  await until(cw, 'the monitoring visits', f.locator('#monitoring'));
  await expectText(cw, f.locator('#case-stage'), /Monitoring/, 'the case is in monitoring');
  await expectText(cw, f.locator('#procurement'), /paid/, 'the item is paid');
  await snap(cw, 'case-monitoring');
  await f.screenshot({ path: join(OUT, 'case-page.png') }); // the top of the page, as README.md shows it

  // The same page in French.
  await f.getByRole('link', { name: 'Français' }).click();
  await expectText(cw, f.locator('#case-stage'), /Suivi/, 'the stage in French');
  await snap(cw, 'case-monitoring-fr');
  await f.getByRole('link', { name: 'English' }).click();

  // A search finds the person by name (folded), phone and document number, in the offices that see the case.
  await f.goto(`${BASE}/cases`);
  await f.locator('#name').fill('aminata CÂMARA');
  await f.getByRole('button', { name: 'Search' }).click();
  await f.getByRole('link', { name: reference }).waitFor();
  if (f.url() !== `${BASE}/cases/search`) fail(`the search is not a POST to /cases/search (at ${f.url()})`);
  await snap(cw, 'search-found');
  await accessible(cw, 'cases and search');

  // 8. A caseworker of another office searches and finds nothing.
  const other = await person('caseworker-sn');
  await other.page.goto(`${BASE}/cases`);
  await other.page.locator('#name').fill('Camara');
  await other.page.getByRole('button', { name: 'Search' }).click();
  await expectText(other, other.page.locator('p.lead[role=status]'), /^0 cases found/, 'another office finds nothing');
  if (await other.page.getByRole('link', { name: reference }).count() > 0) fail('a caseworker of another office sees the case');
  await other.page.goto(caseURL);
  await expectText(other, other.page.locator('h1'), /Not found/, 'another office cannot open the case');
  await snap(other, 'other-office-finds-nothing');

  // 9. A manager's pages: stuck cases and statistics (with the CSV).
  const mg = await person('manager');
  await mg.page.goto(`${BASE}/stuck`);
  await snap(mg, 'stuck');
  await accessible(mg, 'stuck cases');
  await mg.page.goto(`${BASE}/reports`);
  await mg.page.locator('figure.chart svg').first().waitFor();
  await snap(mg, 'statistics');
  await accessible(mg, 'statistics');
  const csv = await mg.page.request.get(`${BASE}/reports/monthly.csv`);
  if (csv.status() !== 200 || !(await csv.text()).startsWith('table,period')) fail('the CSV download failed');
  await mg.page.goto(caseURL);
  if (await mg.page.locator('#temporal-link').count() !== 1) fail('a manager sees no link to the Temporal UI');

  const serious = a11y.filter((r) => r.bad.length > 0);
  if (serious.length > 0) {
    fail('serious accessibility violations: ' + serious.map((r) => `${r.name}: ${r.bad.map((v) => v.id).join(', ')}`).join('; '));
  }
  if (problems.length > 0) fail('the browser reported problems:\n  ' + problems.join('\n  '));
  say(`PASS: ${reference} from registration to monitoring through the pages; ${a11y.length} pages without serious accessibility violations; ${shot} screenshots`);
} catch (err) {
  console.error(`workspace-check: FAIL: ${err instanceof CheckFailed ? err.message : err.stack}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
