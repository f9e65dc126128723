/* app.js - the web page of `mien serve`: DetectFaces, CompareFaces and the collection
 * operations on photos the user picks, drawn on canvases.
 *
 * The page is an ordinary Rekognition client: every action is one POST / on this origin with
 * AWS JSON 1.1 (X-Amz-Target: RekognitionService.<Operation>, the image as base64 in
 * Image.Bytes), and errors are shown as the server names them (__type, Message). So the page
 * tests the same wire protocol that aws-cli and boto3 use, and needs no endpoint of its own.
 *
 * A server with access keys accepts only requests signed with AWS Signature Version 4. The
 * page signs in the browser with the key the user typed, kept in sessionStorage (gone when
 * the tab closes; never sent, only the signature is). Hashing uses WebCrypto, which browsers
 * offer only in secure contexts (https or localhost); a server reached as http://host:port
 * on a LAN is not one, yet it is exactly the server that has keys. So a small SHA-256 in
 * plain JS stands in when crypto.subtle is absent (the browser test checks both agree).
 *
 * No framework and no build step: DOM calls and a few helpers. Every result area carries
 * data-state (busy, done, error) and counts (data-faces, data-matches, ...) so that the
 * browser test, and assistive technology through aria-live, can follow what happened. */
'use strict';

const $ = (id) => document.getElementById(id);
const utf8 = new TextEncoder();

/* ---- SHA-256 and HMAC ---- */

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/* FIPS 180-4's constants are the first 32 fraction bits of the square and cube roots of the
 * first primes; doubles carry enough bits to compute them exactly. */
const SHA256_K = new Uint32Array(64);
const SHA256_H = new Uint32Array(8);
{
  const frac = (x) => ((x - Math.floor(x)) * 2 ** 32) >>> 0;
  for (let n = 2, i = 0; i < 64; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) if (n % d === 0) prime = false;
    if (!prime) continue;
    if (i < 8) SHA256_H[i] = frac(Math.sqrt(n));
    SHA256_K[i++] = frac(Math.cbrt(n));
  }
}

function sha256Js(msg) {
  const ror = (x, n) => (x >>> n) | (x << (32 - n));
  const n = msg.length;
  const total = (((n + 9 + 63) / 64) | 0) * 64;
  const buf = new Uint8Array(total);
  buf.set(msg);
  buf[n] = 0x80;
  const dv = new DataView(buf.buffer);
  dv.setUint32(total - 8, Math.floor(n / 2 ** 29));
  dv.setUint32(total - 4, (n << 3) >>> 0);
  const h = SHA256_H.slice();
  const w = new Uint32Array(64);
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15], y = w[i - 2];
      w[i] = w[i - 16] + (ror(x, 7) ^ ror(x, 18) ^ (x >>> 3)) + w[i - 7] +
             (ror(y, 17) ^ ror(y, 19) ^ (y >>> 10));
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
                  SHA256_K[i] + w[i]) | 0;
      const t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g, g = f, f = e, e = (d + t1) | 0, d = c, c = b, b = a, a = (t1 + t2) | 0;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
  }
  const out = new Uint8Array(32);
  const odv = new DataView(out.buffer);
  h.forEach((v, i) => odv.setUint32(4 * i, v));
  return out;
}

function hmacJs(key, msg) {
  if (key.length > 64) key = sha256Js(key);
  const pad = (x) => {
    const p = new Uint8Array(64).fill(x);
    key.forEach((b, i) => (p[i] ^= b));
    return p;
  };
  const join = (a, b) => {
    const r = new Uint8Array(a.length + b.length);
    r.set(a);
    r.set(b, a.length);
    return r;
  };
  return sha256Js(join(pad(0x5c), sha256Js(join(pad(0x36), msg))));
}

const subtle = globalThis.crypto && globalThis.crypto.subtle;

async function sha256(bytes) {
  if (!subtle) return sha256Js(bytes);
  return new Uint8Array(await subtle.digest('SHA-256', bytes));
}

async function hmac(key, msg) {
  if (!subtle) return hmacJs(key, msg);
  const k = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle.sign('HMAC', k, msg));
}

/* ---- Signature Version 4 ---- */

const KEYS_ITEM = 'mien.keys';

function savedKeys() {
  try {
    const k = JSON.parse(sessionStorage.getItem(KEYS_ITEM) || 'null');
    return k && k.keyId && k.secret ? k : null;
  } catch {
    return null;
  }
}

/* The headers that sign a POST / of body (a string) at time now: the canonical request
 * names content-type, host, x-amz-date and x-amz-target, as AWS SDKs sign JSON requests.
 * The browser sends Host itself (location.host), so that is what is signed. */
async function sigv4(headers, body, keys, now) {
  const date = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const day = date.slice(0, 8);
  const scope = `${day}/${keys.region}/rekognition/aws4_request`;
  const signed = { ...headers, host: location.host, 'x-amz-date': date };
  const names = Object.keys(signed).map((n) => n.toLowerCase()).sort();
  const value = (n) => signed[Object.keys(signed).find((k) => k.toLowerCase() === n)];
  const canonical = [
    'POST', '/', '',
    ...names.map((n) => `${n}:${String(value(n)).trim()}`), '',
    names.join(';'),
    hex(await sha256(utf8.encode(body))),
  ].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', date, scope, hex(await sha256(utf8.encode(canonical)))]
    .join('\n');
  let key = utf8.encode('AWS4' + keys.secret);
  for (const part of [day, keys.region, 'rekognition', 'aws4_request'])
    key = await hmac(key, utf8.encode(part));
  const signature = hex(await hmac(key, utf8.encode(toSign)));
  return {
    ...headers,
    'X-Amz-Date': date,
    Authorization: `AWS4-HMAC-SHA256 Credential=${keys.keyId}/${scope}, ` +
                   `SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}

/* ---- the API ---- */

class ApiError extends Error {
  constructor(type, message, status, requestId) {
    super(message);
    this.type = type;
    this.status = status;
    this.requestId = requestId;
  }
}

async function call(op, request) {
  const body = JSON.stringify(request);
  let headers = {
    'Content-Type': 'application/x-amz-json-1.1',
    'X-Amz-Target': `RekognitionService.${op}`,
  };
  const keys = savedKeys();
  if (keys) headers = await sigv4(headers, body, keys, new Date());
  let resp;
  try {
    resp = await fetch('/', { method: 'POST', headers, body, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new ApiError('NetworkError', `the server did not answer (${e.message})`, 0, '');
  }
  const requestId = resp.headers.get('x-amzn-RequestId') || '';
  const text = await resp.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* reported below */
  }
  if (resp.ok && json) return json;
  if (json && json.__type) {
    /* AWS may qualify the type ("com.amazonaws...#Name"); the name is what users look up. */
    const type = String(json.__type).split('#').pop();
    throw new ApiError(type, json.Message || json.message || '', resp.status, requestId);
  }
  throw new ApiError(`HTTP ${resp.status}`, text.slice(0, 300), resp.status, requestId);
}

/* ---- photos and drawing ---- */

const MAX_CANVAS_SIDE = 2048;

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result.slice(r.result.indexOf(',') + 1));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

/* The file's bytes for the request and, when the browser can decode it, a bitmap to draw on
 * (EXIF orientation applied, as the server applies it, so the boxes' ratios match). A file
 * the browser cannot decode is still sent: the server's error says what is wrong with it. */
async function readPhoto(file) {
  const [bitmap, bytes] = await Promise.all([
    createImageBitmap(file, { imageOrientation: 'from-image' }).catch(() => null),
    base64Of(file),
  ]);
  return { file, bitmap, bytes };
}

const COLORS = { face: '#ffd23f', match: '#3ddc84', other: '#ff8a3d', source: '#5ab4ff' };

/* A canvas showing photo with marks: [{box, landmarks, label, color}], boxes and points as
 * ratios of the image (Rekognition's BoundingBox and Landmarks). */
function drawPhoto(photo, marks, description) {
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', description);
  canvas.textContent = description;
  if (!photo.bitmap) return canvas;
  const { width: iw, height: ih } = photo.bitmap;
  const scale = Math.min(1, MAX_CANVAS_SIDE / Math.max(iw, ih));
  const w = (canvas.width = Math.round(iw * scale));
  const h = (canvas.height = Math.round(ih * scale));
  const ctx = canvas.getContext('2d');
  ctx.drawImage(photo.bitmap, 0, 0, w, h);
  const line = Math.max(2, Math.round(Math.max(w, h) / 300));
  ctx.font = `bold ${Math.max(12, Math.round(Math.max(w, h) / 40))}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  for (const m of marks) {
    const x = m.box.Left * w, y = m.box.Top * h, bw = m.box.Width * w, bh = m.box.Height * h;
    ctx.lineWidth = line + 2;
    ctx.strokeStyle = 'rgba(0,0,0,0.6)';
    ctx.strokeRect(x, y, bw, bh);
    ctx.lineWidth = line;
    ctx.strokeStyle = m.color;
    ctx.strokeRect(x, y, bw, bh);
    for (const p of m.landmarks || []) {
      ctx.beginPath();
      ctx.arc(p.X * w, p.Y * h, line * 0.9, 0, 2 * Math.PI);
      ctx.fillStyle = '#00e5ff';
      ctx.fill();
    }
    if (m.label) {
      const pad = line;
      const tw = ctx.measureText(m.label).width + 2 * pad;
      const th = parseInt(ctx.font.match(/(\d+)px/)[1], 10) + 2 * pad;
      const ty = y >= th ? y - th : y;
      ctx.fillStyle = m.color;
      ctx.fillRect(x - line / 2, ty, tw, th);
      ctx.fillStyle = '#111';
      ctx.fillText(m.label, x - line / 2 + pad, ty + pad);
    }
  }
  return canvas;
}

/* ---- page helpers ---- */

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'scope')
      e.setAttribute(k, v);
    else e[k] = v;
  }
  e.append(...children.filter((c) => c !== null && c !== undefined));
  return e;
}

function table(caption, head, rows) {
  return el('table', {},
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))));
}

const num = (x, digits = 1) => (typeof x === 'number' ? x.toFixed(digits) : '–');
const plural = (n, word, s = 's') => `${n} ${word}${n === 1 ? '' : s}`;
const AUTH_ERRORS = ['MissingAuthenticationTokenException', 'UnrecognizedClientException',
                     'InvalidSignatureException', 'AccessDeniedException'];

function errorBox(e) {
  const type = e instanceof ApiError ? e.type : 'Error';
  const box = el('div', { className: 'error', role: 'alert', 'data-error-type': type },
    el('p', {}, el('strong', {}, type), e.status ? ` (HTTP ${e.status})` : ''),
    el('p', {}, e.message || 'no message'));
  if (AUTH_ERRORS.includes(type))
    box.append(el('p', {}, 'This server wants signed requests: enter an access key under ',
                  el('a', { href: '#keys' }, 'Access keys'), '.'));
  if (e.requestId) box.append(el('p', { className: 'small' }, `request id ${e.requestId}`));
  return box;
}

/* Runs action for the result area out: marks it busy, shows what action returns (nodes) or
 * the error it throws. A newer run on the same area supersedes an older one still going. */
async function show(out, action) {
  const run = (out.runs = (out.runs || 0) + 1);
  out.dataset.state = 'busy';
  out.setAttribute('aria-busy', 'true');
  out.replaceChildren(el('p', { className: 'busy' }, 'Working…'));
  let nodes, state = 'done';
  try {
    nodes = await action();
  } catch (e) {
    nodes = [errorBox(e)];
    state = 'error';
  }
  if (run !== out.runs) return;
  out.replaceChildren(...nodes.filter((n) => n));
  out.removeAttribute('aria-busy');
  out.dataset.state = state;
}

/* A drop zone: a label around a file input, so clicking and the keyboard work as for any
 * file input, and dropping files onto it fills the input. */
function dropZone(label) {
  const input = label.querySelector('input[type=file]');
  label.addEventListener('dragover', (e) => {
    e.preventDefault();
    label.classList.add('over');
  });
  label.addEventListener('dragleave', () => label.classList.remove('over'));
  label.addEventListener('drop', (e) => {
    e.preventDefault();
    label.classList.remove('over');
    if (!e.dataTransfer.files.length) return;
    input.files = e.dataTransfer.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

/* A form runs on submit, and as soon as it is complete when a file is chosen or dropped. */
function onForm(form, action) {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    action();
  });
  form.addEventListener('change', (e) => {
    if (e.target.type === 'file' && form.checkValidity()) action();
  });
}

const image = (photo) => ({ Bytes: photo.bytes });
const threshold = (input) => (input.value === '' ? 80 : Number(input.value));

/* ---- Detect ---- */

function detect() {
  const out = $('detect-result');
  show(out, async () => {
    const photo = await readPhoto($('detect-file').files[0]);
    const r = await call('DetectFaces', { Image: image(photo), Attributes: ['ALL'] });
    const faces = r.FaceDetails || [];
    out.dataset.faces = faces.length;
    const marks = faces.map((f, i) => ({
      box: f.BoundingBox, landmarks: f.Landmarks, label: String(i + 1), color: COLORS.face,
    }));
    const summary = `${photo.file.name}: ${plural(faces.length, 'face')} found`;
    return [
      el('p', { className: 'summary' }, summary),
      drawPhoto(photo, marks, summary),
      faces.length ? table('Faces, largest first',
        ['#', 'Confidence', 'Roll°', 'Yaw°', 'Pitch°', 'Brightness', 'Sharpness', 'Landmarks'],
        faces.map((f, i) => [String(i + 1), num(f.Confidence, 2), num(f.Pose?.Roll),
          num(f.Pose?.Yaw), num(f.Pose?.Pitch), num(f.Quality?.Brightness),
          num(f.Quality?.Sharpness), String((f.Landmarks || []).length)])) : null,
    ];
  });
}

/* ---- Compare ---- */

function compare() {
  const out = $('compare-result');
  show(out, async () => {
    const [source, target] = await Promise.all([
      readPhoto($('compare-source').files[0]), readPhoto($('compare-target').files[0])]);
    const r = await call('CompareFaces', {
      SourceImage: image(source), TargetImage: image(target),
      SimilarityThreshold: threshold($('compare-threshold')),
    });
    const matches = r.FaceMatches || [], unmatched = r.UnmatchedFaces || [];
    out.dataset.matches = matches.length;
    out.dataset.unmatched = unmatched.length;
    const marks = [
      ...matches.map((m) => ({ box: m.Face.BoundingBox, color: COLORS.match,
                               label: `${num(m.Similarity)}%` })),
      ...unmatched.map((f) => ({ box: f.BoundingBox, color: COLORS.other, label: 'no match' })),
    ];
    const summary = `${plural(matches.length, 'match', 'es')}, ${unmatched.length} other ` +
                    `${unmatched.length === 1 ? 'face' : 'faces'} in ${target.file.name}`;
    return [
      el('p', { className: 'summary' }, summary),
      el('div', { className: 'pair' },
        drawPhoto(source, [{ box: r.SourceImageFace.BoundingBox, color: COLORS.source,
                             label: 'source' }], `${source.file.name}: the source face`),
        drawPhoto(target, marks, `${target.file.name}: ${summary}`)),
      matches.length ? table('Matches', ['Similarity', 'Confidence'],
        matches.map((m) => [num(m.Similarity, 2), num(m.Face.Confidence, 2)])) : null,
    ];
  });
}

/* ---- Collections ---- */

const collection = () => $('collection').value;

function needCollection() {
  if (!collection()) throw new Error('Create a collection first, or choose one.');
  return collection();
}

/* Fills the collection list (keeping the chosen one, or choosing select), then lists the
 * faces of the chosen one. */
async function loadCollections(select) {
  const ids = [];
  let token;
  do {
    const r = await call('ListCollections', token ? { NextToken: token } : {});
    ids.push(...(r.CollectionIds || []));
    token = r.NextToken;
  } while (token);
  const keep = select || collection();
  $('collection').replaceChildren(...ids.map((id) => el('option', { value: id }, id)));
  if (ids.includes(keep)) $('collection').value = keep;
  $('collection-result').dataset.collections = ids.length;
  listFaces();
  return ids;
}

function refreshCollections() {
  show($('collection-result'), async () => {
    const ids = await loadCollections();
    return [el('p', {}, ids.length ? `${plural(ids.length, 'collection')}.`
                                   : 'No collection yet: create one above.')];
  });
}

function createCollection() {
  const name = $('create-name').value;
  show($('collection-result'), async () => {
    const r = await call('CreateCollection', { CollectionId: name });
    $('create-name').value = '';
    await loadCollections(name);
    return [el('p', {}, `Created ${name} (face model ${r.FaceModelVersion}).`)];
  });
}

function deleteCollection() {
  const id = collection();
  if (!id || !confirm(`Delete the collection ${id} and all its faces?`)) return;
  show($('collection-result'), async () => {
    await call('DeleteCollection', { CollectionId: id });
    await loadCollections();
    return [el('p', {}, `Deleted ${id}.`)];
  });
}

/* The faces of the chosen collection, each with a delete button; note says what just
 * happened. */
async function facesView(note) {
  const out = $('faces-result');
  const id = collection();
  if (!id) {
    out.dataset.faces = 0;
    return [el('p', {}, 'No collection chosen.')];
  }
  const r = await call('ListFaces', { CollectionId: id, MaxResults: 1000 });
  const faces = r.Faces || [];
  out.dataset.faces = faces.length;
  const del = (f) => el('button', {
    type: 'button', className: 'danger', textContent: 'Delete',
    'aria-label': `Delete face ${f.ExternalImageId || ''} ${f.FaceId}`,
    onclick: () => deleteFace(f.FaceId),
  });
  return [
    note ? el('p', {}, note) : null,
    el('p', {}, `${plural(faces.length, 'face')} in ${id}${r.NextToken ? ' (first 1000 shown)' : ''}.`),
    faces.length ? table(`Faces of ${id}`, ['ExternalImageId', 'FaceId', 'Confidence', ''],
      faces.map((f) => [f.ExternalImageId || '–', el('code', {}, f.FaceId),
                        num(f.Confidence, 2), del(f)])) : null,
  ];
}

const listFaces = () => show($('faces-result'), () => facesView());

function deleteFace(faceId) {
  show($('faces-result'), async () => {
    const r = await call('DeleteFaces', { CollectionId: needCollection(), FaceIds: [faceId] });
    return facesView(`Deleted ${plural((r.DeletedFaces || []).length, 'face')}.`);
  });
}

/* ExternalImageId allows [a-zA-Z0-9_.\-:]+; other characters of a file name become _. */
const externalId = (name) => name.replace(/[^a-zA-Z0-9_.\-:]/g, '_').slice(0, 255) || 'photo';

function indexPhotos() {
  const out = $('index-result');
  show(out, async () => {
    const id = needCollection();
    const nodes = [];
    let indexed = 0;
    for (const file of $('index-files').files) {
      const photo = await readPhoto(file);
      if (photo.bitmap) cropPhotos.set(externalId(file.name), photo.bitmap);
      const r = await call('IndexFaces', {
        CollectionId: id, Image: image(photo), ExternalImageId: externalId(file.name),
        DetectionAttributes: ['DEFAULT'],
      });
      const ok = r.FaceRecords || [], skipped = r.UnindexedFaces || [];
      indexed += ok.length;
      const text = `${file.name}: ${plural(ok.length, 'face')} indexed` +
        (skipped.length ? `, ${skipped.length} not (${skipped.map((u) => u.Reasons.join(' ')).join('; ')})` : '');
      nodes.push(el('figure', {},
        drawPhoto(photo, [
          ...ok.map((f) => ({ box: f.Face.BoundingBox, color: COLORS.match })),
          ...skipped.map((u) => ({ box: u.FaceDetail.BoundingBox, color: COLORS.other })),
        ], text),
        el('figcaption', {}, text)));
    }
    out.dataset.indexed = indexed;
    listFaces();
    return [el('div', { className: 'thumbs' }, ...nodes)];
  });
}

function search() {
  const out = $('search-result');
  show(out, async () => {
    const id = needCollection();
    const photo = await readPhoto($('search-file').files[0]);
    const r = await call('SearchFacesByImage', {
      CollectionId: id, Image: image(photo), FaceMatchThreshold: threshold($('search-threshold')),
    });
    const matches = r.FaceMatches || [];
    out.dataset.matches = matches.length;
    const summary = `${plural(matches.length, 'match', 'es')} in ${id} for the largest face of ${photo.file.name}`;
    return [
      el('p', { className: 'summary' }, summary),
      drawPhoto(photo, [{ box: r.SearchedFaceBoundingBox, color: COLORS.source,
                          label: 'searched' }], summary),
      matches.length ? table('Matches, most similar first',
        ['Similarity', 'ExternalImageId', 'FaceId'],
        matches.map((m) => [num(m.Similarity, 2), m.Face.ExternalImageId || '–',
                            el('code', {}, m.Face.FaceId)])) : null,
    ];
  });
}

/* ---- People: proposed users (ProposeUsers, AcceptProposal; docs/people.md) ---- */

/* Photos to crop faces from, by ExternalImageId: those indexed from this page and those given
 * to the People form. mien stores no images, so crops are made here, on the fly. */
const cropPhotos = new Map();
const CROP_SIDE = 96;
/* Proposals the user rejected: kept in this tab only; their faces stay as they were. */
const REJECTED_ITEM = 'mien.rejected';

function rejectedProposals() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(REJECTED_ITEM) || '[]'));
  } catch {
    return new Set();
  }
}

/* A square crop around the face's box (a fifth of margin), or its FaceId without a photo. */
function faceCrop(face) {
  const bitmap = cropPhotos.get(face.ExternalImageId);
  if (!bitmap) return el('code', { className: 'nocrop', title: face.FaceId }, face.FaceId.slice(0, 8));
  const b = face.BoundingBox, iw = bitmap.width, ih = bitmap.height;
  const side = Math.max(b.Width * iw, b.Height * ih) * 1.2;
  const cx = (b.Left + b.Width / 2) * iw, cy = (b.Top + b.Height / 2) * ih;
  const canvas = el('canvas', { className: 'crop', role: 'img', 'aria-label': `face ${face.FaceId}` });
  canvas.width = canvas.height = CROP_SIDE;
  canvas.getContext('2d').drawImage(bitmap, cx - side / 2, cy - side / 2, side, side, 0, 0,
                                    CROP_SIDE, CROP_SIDE);
  return canvas;
}

/* One proposal: its strip of faces (each with a keep box), a name, Accept and Reject. */
function proposalView(p) {
  const keeps = p.Faces.map((f) => el('input', {
    type: 'checkbox', checked: true, value: f.FaceId, 'aria-label': `keep face ${f.FaceId}`,
  }));
  const name = el('input', {
    type: 'text', value: p.UserId || `person-${p.ProposalId.slice(0, 8)}`, maxLength: 128,
    'aria-label': 'UserId to accept as', autocomplete: 'off', spellcheck: false,
  });
  const what = p.UserId
    ? `${plural(p.Faces.length, 'new face')} look like user ${p.UserId}`
    : `${plural(p.Faces.length, 'face')} of one person (cohesion ${num(p.Cohesion)})`;
  return el('li', { className: 'proposal', 'data-proposal-id': p.ProposalId,
                    'data-faces': p.Faces.length, 'data-user-id': p.UserId || '' },
    el('p', {}, what),
    el('div', { className: 'strip' },
       ...p.Faces.map((f, i) => el('label', { className: 'face' }, faceCrop(f), keeps[i]))),
    el('div', { className: 'row' }, name,
       el('button', { type: 'button', textContent: 'Accept',
                      onclick: () => acceptProposal(p, name.value.trim(), keeps) }),
       el('button', { type: 'button', className: 'danger', textContent: 'Reject',
                      onclick: () => rejectProposal(p.ProposalId) })));
}

async function peopleView(note) {
  const out = $('people-result');
  const id = needCollection();
  for (const file of $('people-photos').files) {
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' }).catch(() => null);
    if (bitmap) cropPhotos.set(externalId(file.name), bitmap);
  }
  const minFaces = Number($('people-min-faces').value) || 3;
  const r = await call('ProposeUsers', {
    CollectionId: id, FaceMatchThreshold: threshold($('people-threshold')), MinFaces: minFaces,
    MaxResults: 100,
  });
  const rejected = rejectedProposals();
  const shown = (r.ProposedUsers || []).filter((p) => !rejected.has(p.ProposalId));
  out.dataset.proposals = shown.length;
  const hidden = (r.ProposedUsers || []).length - shown.length;
  return [
    note ? el('p', { className: 'summary' }, note) : null,
    el('p', {}, `${plural(shown.length, 'proposed user')} in ${id}` +
                (hidden ? ` (${hidden} rejected, hidden)` : '') + '.'),
    el('ul', { className: 'proposals' }, ...shown.map(proposalView)),
  ];
}

const proposeUsers = () => show($('people-result'), () => peopleView());

function acceptProposal(p, userId, keeps) {
  show($('people-result'), async () => {
    const faceIds = keeps.filter((k) => k.checked).map((k) => k.value);
    if (!faceIds.length) throw new Error('Keep at least one face, or reject the group.');
    const r = await call('AcceptProposal', {
      CollectionId: needCollection(), ProposalId: p.ProposalId, UserId: userId, FaceIds: faceIds,
      FaceMatchThreshold: threshold($('people-threshold')),
    });
    const split = p.Faces.length - faceIds.length;
    listFaces();
    return peopleView(`${r.UserId}: ${plural(r.AssociatedFaces.length, 'face')} associated` +
                      (r.UserCreated ? ' (a new user)' : '') +
                      (split ? `, ${plural(split, 'face')} split off` : '') + '.');
  });
}

function rejectProposal(proposalId) {
  const rejected = rejectedProposals();
  rejected.add(proposalId);
  sessionStorage.setItem(REJECTED_ITEM, JSON.stringify([...rejected]));
  show($('people-result'), () => peopleView('Rejected: those faces stay as they are.'));
}

/* ---- Access keys ---- */

function showKeys() {
  const k = savedKeys();
  $('keys-status').textContent = k
    ? `Requests are signed with ${k.keyId} for region ${k.region}.`
    : 'Requests are not signed (enough for a server without access keys).';
  document.body.dataset.signed = k ? 'yes' : 'no';
}

function saveKeys() {
  const keyId = $('key-id').value.trim(), secret = $('key-secret').value.trim();
  const region = $('key-region').value.trim() || 'us-east-1';
  if (!keyId && !secret) sessionStorage.removeItem(KEYS_ITEM);
  else if (!keyId || !secret) {
    $('keys-status').textContent = 'Give both the access key id and the secret, or neither.';
    return;
  } else sessionStorage.setItem(KEYS_ITEM, JSON.stringify({ keyId, secret, region }));
  showKeys();
  refreshCollections();
}

function forgetKeys() {
  sessionStorage.removeItem(KEYS_ITEM);
  $('key-id').value = $('key-secret').value = '';
  showKeys();
}

/* ---- start ---- */

function start() {
  document.querySelectorAll('label.drop').forEach(dropZone);
  onForm($('detect-form'), detect);
  onForm($('compare-form'), compare);
  onForm($('create-form'), createCollection);
  onForm($('index-form'), indexPhotos);
  onForm($('search-form'), search);
  onForm($('people-form'), proposeUsers);
  $('collection-form').addEventListener('submit', (e) => e.preventDefault());
  $('collection').addEventListener('change', listFaces);
  $('collection-refresh').addEventListener('click', () => refreshCollections());
  $('collection-delete').addEventListener('click', deleteCollection);
  $('keys-form').addEventListener('submit', (e) => {
    e.preventDefault();
    saveKeys();
  });
  $('keys-forget').addEventListener('click', forgetKeys);
  const k = savedKeys();
  if (k) {
    $('key-id').value = k.keyId;
    $('key-secret').value = k.secret;
    $('key-region').value = k.region;
  }
  showKeys();
  refreshCollections();
}

start();
