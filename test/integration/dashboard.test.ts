import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type https from 'node:https';
import { chromium, type Browser, type Page } from 'playwright-core';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { tempDir } from '../helpers/pki.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
/** Gateways ship audit batches every 0.5 s and the page polls every 2 s: a few seconds is normal, this is the give-up point. */
const APPEARS_WITHIN_MS = 20_000;

const REPORTING = 'spiffe://east.acme.internal/ns/analytics/sa/reporting';

describe('operator dashboard in headless Chromium, against the lab', () => {
  let world: LabWorld;
  let browser: Browser;
  let page: Page;
  let auditorToken: string;
  let authorToken: string;
  const agents: https.Agent[] = [];
  const pageErrors: string[] = [];

  const shot = async (name: string) => {
    await page.evaluate(() => window.scrollTo(0, 0)); // the header is sticky: from anywhere else it lands mid-page
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const signIn = async (token: string) => {
    await page.getByLabel('Admin token').fill(token);
    await page.getByRole('button', { name: 'Open dashboard' }).click();
  };
  const call = (workload: 'frontend' | 'reporting', method: string, path: string) => {
    const east = world.clusters.get('east')!;
    const agent = createWorkloadAgent(east.identities.get(workload)!, gatewaySpiffeId(east.trustDomain));
    agents.push(agent);
    return callThroughGateway(agent, east.gateway.outbound, { method, host: 'billing.west.interlock', path });
  };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); the CI does`);
    mkdirSync(ARTIFACTS, { recursive: true });
    world = await startLab({ dir: join(tempDir('interlock-dashboard-'), 'lab') });
    auditorToken = (await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name: 'ana', roles: ['auditor'] })).token;
    authorToken = (await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name: 'paul', roles: ['policy-author'] })).token;
    // Allowed traffic first, so the link has calls, latency and verdicts to show.
    for (let i = 0; i < 5; i++) assert.equal((await call('frontend', 'GET', `/invoices/${i}`)).status, 200);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    // The control plane's certificate comes from the lab's own root, which this throwaway browser profile does not hold.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 1000 } });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // The refused tokens below answer 401/403 on purpose; anything else (a CSP violation, a script error) is a bug.
      if (message.type() === 'error' && !/status of 40[13]/.test(message.text())) pageErrors.push(message.text());
    });
    await page.goto(`${world.controlPlane.url}/dashboard`);
  });

  after(async () => {
    await browser?.close();
    agents.forEach((a) => a.destroy());
    await world?.close();
  });

  test('a wrong token, and a token without a dashboard role, are refused with their error codes', async () => {
    await signIn('iladm_not-a-real-token');
    await page.getByRole('alert').filter({ hasText: 'IL_ERR_AUTHN_REQUIRED' }).waitFor();
    await shot('wrong-token');
    await signIn(authorToken);
    const refusal = page.getByRole('alert').filter({ hasText: 'IL_ERR_ROLE_FORBIDDEN' });
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /paul has roles \[policy-author\]/);
    assert.equal(await page.getByRole('heading', { name: 'Certificates' }).count(), 0, 'no data shown without the role');
  });

  test('an auditor sees both clusters and their link, the certificate table with the gateway SVIDs, and the traffic', async () => {
    await signIn(auditorToken);
    const link = page.getByRole('table', { name: 'Links' }).getByRole('row', { name: /east ↔ west/ });
    await link.waitFor();
    const map = page.getByRole('img', { name: 'Cluster map' });
    const mapText = await map.textContent();
    assert.ok(mapText?.includes('east') && mapText.includes('west'), `map shows ${mapText}`);
    assert.equal(await map.locator('g.link line').count(), 1, 'one line: the east–west link');
    assert.match(await link.innerText(), /healthy|needs attention|broken/);

    const certificates = page.getByRole('table', { name: 'Certificates' });
    for (const cluster of world.clusters.values()) {
      await certificates.getByRole('row').filter({ hasText: cluster.gateway.spiffeId }).filter({ hasText: 'gateway SVID' }).first().waitFor();
    }
    await certificates.getByRole('row').filter({ hasText: 'root CA' }).first().waitFor();
    // The filter box narrows the table.
    await page.getByLabel('Filter certificates').fill('west.acme.internal');
    await certificates.getByRole('row').filter({ hasText: world.clusters.get('east')!.gateway.spiffeId }).waitFor({ state: 'detached' });
    await page.getByLabel('Filter certificates').fill('');

    const traffic = page.getByRole('article', { name: 'Traffic east → west' });
    await traffic.waitFor();
    await traffic.getByRole('row', { name: /east-frontend-reads-billing/ }).waitFor();
    await page.getByRole('table', { name: 'Policy evaluation latency by gateway' }).getByRole('row', { name: /^west/ }).waitFor();
    await shot('overview');
  });

  test('a call the policy denies appears in recent denies within seconds, and opens its audit record', async () => {
    const denied = await call('reporting', 'GET', '/invoices/42');
    assert.equal(denied.status, 403);
    assert.equal(denied.errorCode, 'IL_ERR_POLICY_DENIED');
    const [stream, seq] = denied.auditRef!.split(':') as [string, string];
    const row = page.getByRole('table', { name: 'Recent denies' }).getByRole('row').filter({ hasText: `${stream} #${seq}` });
    await row.waitFor({ timeout: APPEARS_WITHIN_MS });
    const text = await row.innerText();
    assert.ok(text.includes(REPORTING) && text.includes('west/billing') && text.includes('IL_ERR_POLICY_DENIED'), text);
    await page.getByRole('region', { name: 'Recent denies' }).evaluate((region) => region.scrollIntoView({ block: 'center' }));
    await page.screenshot({ path: join(ARTIFACTS, 'deny-listed.png') });

    await row.getByRole('link', { name: `Open audit record ${stream} #${seq}` }).click();
    const panel = page.getByRole('dialog', { name: `Audit record ${stream} #${seq}` });
    await panel.getByText('policy.decision', { exact: true }).waitFor();
    const record = await panel.innerText();
    assert.ok(record.includes(REPORTING) && /decision\s+deny/.test(record), record);
    await shot('audit-record');
    assert.deepEqual(pageErrors, [], 'no script errors or CSP violations in the page');
  });
});
