/* page.js - drives mien's web page (web/) in headless Chromium through playwright-core, as a
 * user would: picks photos with the page's labelled inputs, presses its buttons, and reads
 * what it shows. Run by tests/test_web.sh against a running `mien serve`, once per phase:
 *
 *   open    a server without keys: the page loads with nothing from elsewhere and no script
 *           error; DetectFaces draws three boxes (checked on the canvas pixels) and a table,
 *           a file that is no image shows InvalidImageFormatException; CompareFaces; a
 *           collection created, two photos indexed, a search, a face and the collection
 *           deleted; the plain-JS SHA-256/HMAC agrees with WebCrypto. Screenshots.
 *   signed  a server with a key: unsigned requests are refused; with the key typed in,
 *           requests are signed (WebCrypto, then the plain-JS fallback) and work; a wrong
 *           secret gives InvalidSignatureException, an unknown key UnrecognizedClientException;
 *           the secret never leaves the page.
 *   people  proposed users (docs/people.md) on the photos of tests/data: see phasePeople.
 *
 * usage: node page.js PHASE URL PHOTOS_DIR SHOTS_DIR [KEY_ID SECRET]
 * Prints one "ok"/"FAIL" line per check; exit 0 all passed, 1 a check failed, 77 Chromium
 * could not start (the caller reports the skip). NODE_PATH must find playwright-core. */
'use strict';

const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [phase, url, photos, shots, keyId, secret] = process.argv.slice(2);
const photo = (name) => path.join(photos, name);
const origin = new URL(url).origin;
const TIMEOUT = 120000; /* a sanitized server is slow */
let failed = 0;

function check(name, cond, detail) {
  if (cond) console.log(`ok   ${name}`);
  else {
    failed++;
    console.log(`FAIL ${name}: ${detail === undefined ? '' : JSON.stringify(detail)}`);
  }
  return cond;
}

/* Runs trigger, then waits for the result area id to settle; returns its data-* attributes,
 * its text and the error type it shows, if any. */
async function settle(page, id, trigger) {
  await page.evaluate((id) => (document.getElementById(id).dataset.state = 'waiting'), id);
  await trigger();
  await page.waitForFunction(
    (id) => ['done', 'error'].includes(document.getElementById(id).dataset.state), id,
    { timeout: TIMEOUT });
  return page.evaluate((id) => {
    const e = document.getElementById(id);
    const err = e.querySelector('.error');
    return { ...e.dataset, text: e.innerText, error: err ? err.dataset.errorType : null };
  }, id);
}

/* Waits until the faces list shows n faces (it reloads after each index or delete). */
async function facesListed(page, n) {
  try {
    await page.waitForFunction((n) => {
      const e = document.getElementById('faces-result');
      return e.dataset.state === 'done' && e.dataset.faces === String(n);
    }, n, { timeout: TIMEOUT });
    return true;
  } catch {
    return false;
  }
}

/* A page on a fresh context, recording script errors, requests to other origins and every
 * request header (to look for the secret). */
async function open(browser, init) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const seen = { errors: [], foreign: [], headers: [] };
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('console', (m) => {
    /* Chromium logs each 4xx answer; those are expected here, the page shows them. */
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
      seen.errors.push(m.text());
  });
  page.on('dialog', (d) => d.accept());
  page.on('request', (r) => {
    if (!/^(data|blob):/.test(r.url()) && new URL(r.url()).origin !== origin)
      seen.foreign.push(r.url());
    seen.headers.push(JSON.stringify(r.headers()));
  });
  if (init) await page.addInitScript(init);
  await page.goto(url, { waitUntil: 'load' });
  /* The collection list loads at start; wait for it so that later waits see only their own. */
  await page.waitForFunction(
    () => ['done', 'error'].includes(document.getElementById('collection-result').dataset.state),
    null, { timeout: TIMEOUT });
  return { page, seen };
}

/* The detected boxes are on the canvas: each box's left edge has the box colour. */
async function boxesDrawn(page, faces) {
  return page.evaluate((faces) => {
    const c = document.querySelector('#detect-result canvas');
    const ctx = c.getContext('2d');
    return faces.every((f) => {
      const b = f.BoundingBox;
      const x = Math.round(b.Left * c.width) - 2, y = Math.round((b.Top + 0.5 * b.Height) * c.height);
      const px = ctx.getImageData(x, y, 5, 1).data;
      for (let i = 0; i < px.length; i += 4)
        if (Math.abs(px[i] - 0xff) < 30 && Math.abs(px[i + 1] - 0xd2) < 30 && Math.abs(px[i + 2] - 0x3f) < 30)
          return true;
      return false;
    });
  }, faces);
}

/* DetectFaces through the page: choosing file, or without one pressing Detect again (the
 * browser does not report choosing the same file twice). Returns settle's answer with the
 * request and its response body. */
async function detect(page, file) {
  const answer = page.waitForResponse((r) =>
    r.request().headers()['x-amz-target'] === 'RekognitionService.DetectFaces', { timeout: TIMEOUT });
  answer.catch(() => {}); /* settle's own timeout reports a request that never came */
  const r = await settle(page, 'detect-result', () => file
    ? page.getByLabel('Photo (choose or drop a JPEG or PNG)').setInputFiles(file)
    : page.getByRole('button', { name: 'Detect', exact: true }).click());
  const resp = await answer;
  r.json = await resp.json().catch(() => null);
  r.request = resp.request();
  return r;
}

/* Drops file onto the drop zone sel as a file dragged from the desktop would land. */
async function drop(page, sel, file) {
  const dt = await page.evaluateHandle(([b64, name]) => {
    const t = new DataTransfer();
    t.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name,
                         { type: 'image/jpeg' }));
    return t;
  }, [fs.readFileSync(file).toString('base64'), path.basename(file)]);
  await page.dispatchEvent(sel, 'drop', { dataTransfer: dt });
}

async function phaseOpen(browser) {
  /* The server serves web/ as it is, with types the browser accepts. */
  const web = path.join(__dirname, '..', '..', 'web');
  for (const [file, type] of [['index.html', 'text/html'], ['app.js', 'javascript'],
                              ['style.css', 'text/css']]) {
    const resp = await fetch(`${origin}/${file === 'index.html' ? '' : file}`);
    const body = Buffer.from(await resp.arrayBuffer());
    check(`GET ${file}`, resp.status === 200 && body.equals(fs.readFileSync(path.join(web, file))) &&
      (resp.headers.get('content-type') || '').includes(type), [resp.status, resp.headers.get('content-type')]);
  }
  const { page, seen } = await open(browser);
  check('page title', (await page.title()) === 'mien');
  check('every control has a label', await page.evaluate(() =>
    [...document.querySelectorAll('input, select')].every((e) => e.labels && e.labels.length)));
  check('unsigned by default', (await page.locator('#keys-status').innerText()).includes('not signed'));
  check('no collection at start', await page.evaluate(() =>
    document.getElementById('collection-result').dataset.collections === '0'));

  /* Detect: the group photo's three faces, boxes on the canvas, one table row each. */
  let r = await detect(page, photo('group.jpg'));
  const faces = (r.json && r.json.FaceDetails) || [];
  check('detect: three faces', r.state === 'done' && r.faces === '3' && faces.length === 3, r);
  check('detect: request is AWS JSON 1.1',
    r.request.headers()['content-type'] === 'application/x-amz-json-1.1' && !r.request.headers().authorization);
  check('detect: canvas at the photo size', await page.evaluate(() => {
    const c = document.querySelector('#detect-result canvas');
    return c && c.width === 1000 && c.height === 560 && c.getAttribute('aria-label').includes('3 faces');
  }));
  check('detect: boxes drawn', faces.length === 3 && (await boxesDrawn(page, faces)));
  check('detect: table rows', (await page.locator('#detect-result tbody tr').count()) === 3);
  check('detect: landmarks listed', faces.every((f) => f.Landmarks.length >= 5) &&
    (await page.locator('#detect-result tbody tr td:last-child').allInnerTexts())
      .every((t, i) => t === String(faces[i].Landmarks.length)));
  await page.locator('#detect').screenshot({ path: path.join(shots, 'web-detect.png') });

  /* An error of the server is shown with its type. */
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mien-web-'));
  const junk = path.join(dir, 'not-a-photo.jpg');
  fs.writeFileSync(junk, 'this is not an image');
  r = await detect(page, junk);
  fs.rmSync(dir, { recursive: true });
  check('detect: bad image shows InvalidImageFormatException',
    r.state === 'error' && r.error === 'InvalidImageFormatException' && /HTTP 400/.test(r.text) &&
    /request id [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.test(r.text), r);
  r = await settle(page, 'detect-result', () =>
    drop(page, '#detect label.drop', photo('group.jpg')));
  check('detect: a dropped photo', r.state === 'done' && r.faces === '3', r);

  /* Compare two photos of Collins (tests/data/README.md). */
  await page.getByLabel('Source photo').setInputFiles(photo('collins.jpg'));
  r = await settle(page, 'compare-result', () =>
    page.getByLabel('Target photo').setInputFiles(photo('collins-2.jpg')));
  const sim = parseFloat(await page.locator('#compare-result tbody tr td').first().innerText().catch(() => 'NaN'));
  check('compare: one match', r.state === 'done' && r.matches === '1' && r.unmatched === '0', r);
  check('compare: similarity >= 80', sim >= 80 && sim <= 100, sim);
  check('compare: two canvases', (await page.locator('#compare-result canvas').count()) === 2);

  /* A collection: create, index two photos, search, delete a face and the collection. */
  await page.getByLabel('New collection').fill('web-album');
  r = await settle(page, 'collection-result', () => page.getByRole('button', { name: 'Create', exact: true }).click());
  check('create collection', r.state === 'done' && r.collections === '1' &&
    (await page.locator('#collection').inputValue()) === 'web-album', r);
  r = await settle(page, 'index-result', () =>
    page.getByLabel(/Photos to index/).setInputFiles([photo('collins.jpg'), photo('hopper.jpg')]));
  check('index two photos', r.state === 'done' && r.indexed === '2', r);
  check('faces listed', await facesListed(page, 2));
  const external = await page.locator('#faces-result tbody tr td:first-child').allInnerTexts();
  check('faces carry the file names', external.sort().join() === 'collins.jpg,hopper.jpg', external);
  r = await settle(page, 'search-result', () =>
    page.getByLabel(/Photo to search with/).setInputFiles(photo('collins-2.jpg')));
  const top = await page.locator('#search-result tbody tr').first().locator('td').allInnerTexts();
  check('search finds collins.jpg', r.state === 'done' && r.matches === '1' &&
    parseFloat(top[0]) >= 80 && top[1] === 'collins.jpg', { r, top });
  await page.screenshot({ path: path.join(shots, 'web-page.png'), fullPage: true });
  await page.getByRole('button', { name: /Delete face hopper\.jpg/ }).click();
  check('delete a face', await facesListed(page, 1));
  r = await settle(page, 'collection-result', () =>
    page.getByRole('button', { name: 'Delete collection' }).click());
  check('delete the collection', r.state === 'done' && r.collections === '0', r);
  r = await settle(page, 'search-result', () =>
    page.getByRole('button', { name: 'Search', exact: true }).click());
  check('search without a collection says so', r.state === 'error' && /collection/.test(r.text), r);

  /* The fallback hashing (for pages outside a secure context) agrees with WebCrypto. */
  const mismatches = await page.evaluate(async () => {
    const bad = [];
    const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 255);
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100000]) {
      const m = bytes(n, n);
      if (hex(sha256Js(m)) !== hex(await sha256(m))) bad.push(`sha256 ${n}`);
      for (const k of [1, 20, 64, 65, 100])
        if (hex(hmacJs(bytes(k, 3), m)) !== hex(await hmac(bytes(k, 3), m))) bad.push(`hmac ${k} ${n}`);
    }
    return bad;
  });
  check('plain-JS SHA-256 and HMAC match WebCrypto', mismatches.length === 0, mismatches);
  check('nothing fetched from elsewhere', seen.foreign.length === 0, seen.foreign);
  check('no script errors', seen.errors.length === 0, seen.errors);
}

async function useKeys(page, id, key) {
  await page.getByLabel('Access key id').fill(id);
  await page.getByLabel('Secret access key').fill(key);
  return settle(page, 'collection-result', () =>
    page.getByRole('button', { name: 'Use for this session' }).click());
}

async function phaseSigned(browser) {
  let { page, seen } = await open(browser);
  let r = await page.evaluate(() => document.querySelector('#collection-result .error')?.dataset.errorType);
  check('unsigned request refused', r === 'MissingAuthenticationTokenException', r);
  r = await detect(page, photo('group.jpg'));
  check('unsigned detect refused with a hint', r.state === 'error' &&
    r.error === 'MissingAuthenticationTokenException' && /Access keys/.test(r.text), r);

  r = await useKeys(page, keyId, secret);
  check('signed ListCollections', r.state === 'done', r);
  check('keys status names the key', (await page.locator('#keys-status').innerText()).includes(keyId));
  r = await detect(page, null);
  const auth = r.request.headers().authorization || '';
  check('signed detect', r.state === 'done' && r.faces === '3', r);
  check('signature header', auth.startsWith(`AWS4-HMAC-SHA256 Credential=${keyId}/`) &&
    auth.includes('/us-east-1/rekognition/aws4_request') &&
    auth.includes('SignedHeaders=content-type;host;x-amz-date;x-amz-target'), auth);
  await page.getByLabel('New collection').fill('signed');
  r = await settle(page, 'collection-result', () => page.getByRole('button', { name: 'Create', exact: true }).click());
  check('signed create collection', r.state === 'done' && r.collections === '1', r);
  r = await settle(page, 'index-result', () =>
    page.getByLabel(/Photos to index/).setInputFiles(photo('collins.jpg')));
  check('signed index', r.state === 'done' && r.indexed === '1', r);
  r = await settle(page, 'search-result', () =>
    page.getByLabel(/Photo to search with/).setInputFiles(photo('collins-2.jpg')));
  check('signed search', r.state === 'done' && r.matches === '1', r);
  check('key kept in session storage only', await page.evaluate((id) =>
    sessionStorage.getItem('mien.keys').includes(id) && localStorage.length === 0, keyId));

  r = await useKeys(page, keyId, 'x'.repeat(40));
  check('wrong secret: InvalidSignatureException', r.state === 'error' && r.error === 'InvalidSignatureException', r);
  r = await detect(page, null);
  check('wrong secret: detect refused', r.state === 'error' && r.error === 'InvalidSignatureException', r);
  r = await useKeys(page, 'AKIA' + 'Z'.repeat(16), secret);
  check('unknown key: UnrecognizedClientException', r.error === 'UnrecognizedClientException', r);
  check('the secret is never sent', !seen.headers.some((h) => h.includes(secret)));
  check('no script errors (signed)', seen.errors.length === 0, seen.errors);

  /* The same key through the plain-JS hashing, as on a page served over plain http. */
  ({ page, seen } = await open(browser, () =>
    Object.defineProperty(globalThis.crypto, 'subtle', { value: undefined })));
  check('no WebCrypto in the fallback page', await page.evaluate(() => !subtle));
  r = await useKeys(page, keyId, secret);
  check('fallback-signed ListCollections', r.state === 'done' && r.collections === '1', r);
  r = await detect(page, photo('group.jpg'));
  check('fallback-signed detect', r.state === 'done' && r.faces === '3', r);
  check('no script errors (fallback)', seen.errors.length === 0, seen.errors);
}

/* people: proposed users (docs/people.md) on the photos of tests/data: Collins three times,
 * Hopper twice and group.jpg (one face of each and the cameraman's) indexed from the page give
 * two proposals, Collins' four faces and Hopper's three (the cameraman's one face is below
 * MinFaces), whose strips show face crops cut from those photos; one face split off, the group
 * renamed and accepted; the split-off face is then proposed to join that user; the other group
 * rejected (hidden); a page without the photos shows FaceIds instead of crops. */
async function phasePeople(browser) {
  let { page, seen } = await open(browser);
  await page.getByLabel('New collection').fill('people');
  let r = await settle(page, 'collection-result', () => page.getByRole('button', { name: 'Create', exact: true }).click());
  check('people: collection created', r.state === 'done', r);
  r = await settle(page, 'index-result', () => page.getByLabel(/Photos to index/).setInputFiles(
    ['collins.jpg', 'collins-2.jpg', 'collins-3.jpg', 'hopper.jpg', 'hopper-2.jpg', 'group.jpg'].map(photo)));
  check('people: eight faces indexed from six photos', r.state === 'done' && r.indexed === '8', r);
  const propose = () => settle(page, 'people-result', () =>
    page.getByRole('button', { name: 'Propose users', exact: true }).click());
  const proposals = () => page.evaluate(() => [...document.querySelectorAll('#people-result .proposal')]
    .map((p) => ({ id: p.dataset.proposalId, faces: Number(p.dataset.faces), user: p.dataset.userId })));
  r = await propose();
  let ps = await proposals();
  check('people: two proposals of 4 and 3 faces', r.state === 'done' && r.proposals === '2' &&
    ps.map((p) => p.faces).join() === '4,3', { r, ps });
  check('people: a crop per face, cut from the photos', await page.evaluate(() => {
    const crops = [...document.querySelectorAll('#people-result canvas.crop')];
    return crops.length === 7 && crops.every((c) => {
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let lo = 255, hi = 0;
      for (let i = 0; i < px.length; i += 4) lo = Math.min(lo, px[i]), hi = Math.max(hi, px[i]);
      return hi - lo > 50; /* a face, not a blank square */
    });
  }));
  const first = page.locator(`.proposal[data-proposal-id="${ps[0].id}"]`);
  await first.getByRole('checkbox').last().uncheck();
  await first.getByLabel('UserId to accept as').fill('collins');
  r = await settle(page, 'people-result', () => first.getByRole('button', { name: 'Accept' }).click());
  check('people: renamed, split and accepted', r.state === 'done' &&
    r.text.includes('collins: 3 faces associated (a new user), 1 face split off.'), r.text);
  ps = await proposals();
  check('people: the split-off face is proposed to collins', ps.length === 2 &&
    ps.some((p) => p.user === 'collins' && p.faces === 1), ps);
  const other = ps.find((p) => p.user !== 'collins');
  r = await settle(page, 'people-result', () =>
    page.locator(`.proposal[data-proposal-id="${other.id}"]`).getByRole('button', { name: 'Reject' }).click());
  check('people: rejected group hidden', r.state === 'done' && r.proposals === '1' &&
    r.text.includes('1 rejected, hidden'), r.text);
  r = await settle(page, 'people-result', () =>
    page.locator('.proposal[data-user-id="collins"]').getByRole('button', { name: 'Accept' }).click());
  check('people: accepted into the existing user', r.state === 'done' &&
    r.text.includes('collins: 1 face associated.') && r.proposals === '0', r.text);
  const collins = await page.evaluate(() => call('ListFaces', { CollectionId: 'people', UserId: 'collins' }));
  check('people: collins has the four faces', collins.Faces.length === 4, collins);
  check('no script errors (people)', seen.errors.length === 0, seen.errors);

  ({ page, seen } = await open(browser));
  await page.evaluate(() => sessionStorage.clear());
  r = await propose();
  check('people: without the photos, FaceIds instead of crops', r.state === 'done' && r.proposals === '1' &&
    await page.locator('#people-result code.nocrop').count() === 3 &&
    await page.locator('#people-result canvas.crop').count() === 0, r);
}

(async () => {
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: process.env.MIEN_CHROMIUM || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-background-networking'],
      timeout: 60000,
    });
  } catch (e) {
    console.log(`SKIP Chromium did not start: ${e.message.split('\n')[0]}`);
    process.exit(77);
  }
  try {
    if (phase === 'open') await phaseOpen(browser);
    else if (phase === 'signed') await phaseSigned(browser);
    else if (phase === 'people') await phasePeople(browser);
    else throw new Error(`unknown phase ${phase}`);
  } catch (e) {
    check(`${phase} phase ran to the end`, false, e.message.split('\n').slice(0, 6).join(' | '));
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})();
