// consentgate banner (README "The banner"); a visitor who has chosen gets the dialog from cfg.part.
const D = document, W = window, root = D.querySelector('[data-consentgate=banner]');
const $ = (s, el = root) => el.querySelector(s), $$ = (s, el = D) => [...el.querySelectorAll(s)];
const hook = (name) => $(`[data-consentgate=${name}]`), json = (name) => JSON.parse(hook(name).text);
const cfg = json('config'), notice = hook('notice'), status = hook('status'), fab = hook('open');
const gpc = navigator.globalPrivacyControl === true; // R-GPC-5
const GCM = {
  personalization: ['functionality_storage', 'personalization_storage'],
  analytics: ['analytics_storage'],
  marketing: ['ad_storage', 'ad_user_data', 'ad_personalization'],
};
let state, dialog, part, last, again, timer, embeds;
const quietly = (p) => p.catch(() => {});

const dataLayer = (W.dataLayer = W.dataLayer || []);
function gtag() { dataLayer.push(arguments); }

function modes(granted) {
  const out = {}, noAds = state.isStudent || state.gpc; // R-GCM-3
  for (const c in GCM) for (const t of GCM[c]) out[t] = granted.includes(c) && !(noAds && c == 'marketing') ? 'granted' : 'denied';
  return out;
}

function adopt(s) {
  const locked = { ...s.locked };
  if (gpc) for (const c of cfg.gpcDenies) locked[c] ||= 'gpc';
  state = { granted: s.granted.filter((c) => !locked[c]), locked, needsChoice: s.needs_choice, isStudent: s.is_student, gpc: s.gpc || gpc };
}

const get = () => ({ ...state, granted: [...state.granted], denied: cfg.optional.filter((c) => !state.granted.includes(c)), locked: { ...state.locked } });

async function load() {
  if (cfg.part) {
    const res = await fetch(cfg.part);
    if (!res.ok) throw Error('consentgate: HTTP ' + res.status);
    status.insertAdjacentHTML('beforebegin', await res.text());
  }
  Object.assign(cfg, json('policy'));
  dialog = hook('dialog');
  dialog.addEventListener('close', () => {
    root.insertBefore(status, fab);
    (last != D.body && last?.getClientRects().length ? last : notice && !notice.hidden ? hook('preferences') : fab).focus();
  });
  dialog.addEventListener('keydown', (e) => { // R-A11Y-2
    const ends = [hook('close'), hook(hook('retry').hidden ? 'save' : 'retry')];
    const [edge, next] = e.shiftKey ? ends : ends.reverse();
    if (e.key == 'Tab' && D.activeElement == edge) e.preventDefault(), next.focus();
  });
}
const more = () => (part ||= load().catch((e) => { part = 0; throw e; }));

function gate() {
  for (const old of $$('script[type="text/plain"][data-consent-category]')) {
    if (old.dataset.consentCategory.split(/\s+/).some((c) => !state.granted.includes(c))) continue;
    const s = old.cloneNode(true); // runs when inserted, with its nonce
    s.type = old.dataset.type || 'text/javascript';
    s.async = false;
    old.replaceWith(s);
  }
  if (!embeds && $('iframe[data-consent-category][data-src],div[data-consent-category]', D)) {
    embeds = more().then(() => import(cfg.embeds), () => (embeds = 0));
  }
}

async function clear(cats) {
  const out = { cookies: [], localStorage: [], sessionStorage: [], indexedDB: [] };
  const res = cats.flatMap((c) => cfg.storage[c] || []), hit = (n) => res.some((r) => RegExp(r).test(n));
  for (const n of D.cookie.split(';').map((p) => p.split('=')[0].trim())) {
    for (const [path, domain, re] of cats.flatMap((c) => cfg.cookies[c] || [])) {
      if (!RegExp(re).test(n)) continue;
      out.cookies.push(n);
      for (const d of [domain || '', '']) D.cookie = `${n}=; Max-Age=0; Path=${path}${d && '; Domain=' + d}`;
    }
  }
  if (res.length) {
    for (const k of ['localStorage', 'sessionStorage']) {
      try { for (const n of Object.keys(W[k])) if (hit(n)) W[k].removeItem(n), out[k].push(n); } catch {}
    }
    try {
      for (const { name } of await indexedDB.databases()) {
        if (hit(name)) {
          out.indexedDB.push(name);
          await new Promise((done) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = r.onerror = r.onblocked = done; });
        }
      }
    } catch {}
  }
  return out;
}

function sync() {
  for (const box of $$('input[data-consentgate-category]', root)) {
    const c = box.dataset.consentgateCategory, why = state.locked[c], lock = $('#cg-k-' + c);
    box.checked = state.granted.includes(c);
    lock.hidden = !(box.disabled = !!why);
    lock.textContent = why ? $(`[data-lock=${why}]`, hook('embed').content).textContent : '';
  }
  for (const n of $$('[data-consentgate-note]', root)) n.hidden = !(n.dataset.consentgateNote == 'gpc' ? state.gpc : state.isStudent);
}

function say(key, redo) {
  const text = status.dataset[key] || '';
  clearTimeout(timer);
  again = redo;
  hook('message').textContent = text;
  hook('retry').hidden = !redo;
  status.classList.toggle('cg-shown', !!text);
  status.classList.toggle('cg-error', !!redo);
}

function fail(err, redo) {
  say('error', redo);
  if (root.contains(D.activeElement)) hook('retry').focus();
  throw err;
}

async function decide(body, method, quiet) {
  const before = state.granted;
  if (!quiet) say('saving');
  try {
    await more();
    const res = await fetch(cfg.endpoint, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, method, language: cfg.lang, ...(gpc && { gpc }) }),
    });
    if (!res.ok) throw Error('consentgate: HTTP ' + res.status);
    adopt((await res.json()).consent);
  } catch (err) {
    if (quiet) throw err;
    fail(err, () => decide(body, method));
  }
  const cleared = await clear(before.filter((c) => !state.granted.includes(c)));
  gtag('consent', 'update', modes(state.granted)); // R-GCM-2
  sync();
  gate();
  const wasIn = root.contains(D.activeElement);
  if (notice) notice.hidden = true;
  fab.hidden = false;
  if (dialog.open) dialog.close();
  else if (wasIn) fab.focus();
  if (!quiet) say('saved'), (timer = setTimeout(say, 6e3));
  const detail = { ...get(), cleared };
  D.dispatchEvent(new CustomEvent('consentgate:change', { detail }));
  return detail;
}

async function show() {
  if (dialog?.open) return;
  last = D.activeElement;
  await more().catch((err) => fail(err, show));
  if (again == show) say();
  if (!dialog.open) sync(), dialog.append(status), dialog.showModal();
}

D.addEventListener('click', (e) => {
  const el = e.target.closest?.('[data-consentgate]'), act = el?.dataset.consentgate;
  const where = (dialog?.contains(el) ? 'dialog:' : root.contains(el) ? 'banner:' : 'page:') + act;
  if (act == 'open' || act == 'preferences') e.preventDefault(), quietly(show());
  else if (act == 'close') dialog.close();
  else if (act == 'accept-all' || act == 'deny-all') quietly(decide({ action: act.replace('-', '_') }, where));
  else if (act == 'save') {
    const boxes = $$('input[data-consentgate-category]:checked:enabled', dialog);
    quietly(decide({ categories: boxes.map((b) => b.dataset.consentgateCategory) }, where));
  } else if (act == 'retry' && again) quietly(again());
});

adopt(cfg);
gtag('consent', 'default', { ...modes([]), security_storage: 'granted', wait_for_update: 500 }); // R-GCM-1
if (!cfg.part) more();
if (!state.needsChoice) {
  gtag('consent', 'update', modes(state.granted));
  if (gpc && cfg.granted.some((c) => state.locked[c] == 'gpc')) { // R-GPC-2
    quietly(decide({ categories: state.granted.filter((c) => c != 'essential') }, 'gpc:browser', 1));
  }
}
sync();
if (state.needsChoice) D.body.prepend(root); // first in the Tab order
root.hidden = false;
fab.hidden = state.needsChoice;
W.consentgate = {
  show, get,
  acceptAll: () => decide({ action: 'accept_all' }, 'api:accept-all'),
  denyAll: () => decide({ action: 'deny_all' }, 'api:deny-all'),
  save: (categories, method = 'api:save') => decide({ categories }, method),
};
gate();
D.dispatchEvent(new CustomEvent('consentgate:ready', { detail: get() }));
