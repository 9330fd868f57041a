// consentgate banner: the visitor's choice, script gating and Google Consent Mode v2.
// The server renders the markup (one language) and a JSON config; no inline code is needed.
const D = document, W = window, root = D.querySelector('[data-consentgate="banner"]');
const $ = (s, el = root) => el.querySelector(s);
const $$ = (s, el = D) => [...el.querySelectorAll(s)];
const cfg = JSON.parse($('[data-consentgate="config"]').textContent);
const notice = $('[data-consentgate="notice"]'), dialog = $('[data-consentgate="dialog"]');
const status = $('[data-consentgate="status"]'), message = $('[data-consentgate="message"]');
const retry = $('[data-consentgate="retry"]'), fab = $('.cg-open');
const browserGpc = navigator.globalPrivacyControl === true; // R-GPC-5: same as Sec-GPC: 1
const GCM = {
  personalization: ['functionality_storage', 'personalization_storage'],
  analytics: ['analytics_storage'],
  marketing: ['ad_storage', 'ad_user_data', 'ad_personalization'],
};
let state, last = null, again = null, timer = 0, embeds;

const dataLayer = (W.dataLayer = W.dataLayer || []);
function gtag() { dataLayer.push(arguments); }

function modes(granted) {
  const out = {};
  for (const [category, types] of Object.entries(GCM)) {
    for (const t of types) out[t] = granted.includes(category) ? 'granted' : 'denied';
  }
  if (state.isStudent || state.gpc) out.ad_storage = out.ad_user_data = out.ad_personalization = 'denied'; // R-GCM-3
  return out;
}

// Server state -> ours; a browser GPC signal locks what Sec-GPC would.
function adopt(s) {
  const locked = { ...s.locked };
  if (browserGpc) for (const c of cfg.gpcDenies) locked[c] = locked[c] || 'gpc';
  state = {
    granted: s.granted.filter((c) => !locked[c]), locked, needsChoice: s.needs_choice,
    isStudent: s.is_student, gpc: s.gpc || browserGpc,
  };
}

function get() {
  return {
    granted: [...state.granted], denied: cfg.optional.filter((c) => !state.granted.includes(c)),
    locked: { ...state.locked }, needsChoice: state.needsChoice, isStudent: state.isStudent, gpc: state.gpc,
  };
}

const allowed = (el) => el.dataset.consentCategory.split(/\s+/).every((c) => state.granted.includes(c));

// Gated <script type="text/plain" data-consent-category> run once allowed; gated iframes load.
function gate() {
  for (const old of $$('script[type="text/plain"][data-consent-category]')) {
    if (!allowed(old)) continue;
    const s = D.createElement('script');
    for (const a of old.attributes) if (a.name !== 'type' && a.name !== 'nonce') s.setAttribute(a.name, a.value);
    if (old.dataset.type) s.type = old.dataset.type;
    s.nonce = old.nonce;
    s.async = false;
    s.text = old.text;
    old.replaceWith(s);
  }
  // Gated iframes and widgets get click-to-load placeholders from a module of their own, loaded
  // only where a page has them (it follows consentgate:change to load and unload them).
  if (!embeds && $('iframe[data-consent-category][data-src],div[data-consent-category]', D)) embeds = import(cfg.embeds);
}

const glob = (p) => new RegExp('^' + p.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');

// Delete the readable cookies of withdrawn categories (the server deletes the HttpOnly ones).
function wipe(categories) {
  const names = D.cookie.split(';').map((p) => p.split('=')[0].trim()).filter(Boolean), gone = [];
  for (const c of categories) {
    for (const [pattern, path, domain] of cfg.cookies[c] || []) {
      const re = glob(pattern);
      for (const n of names) {
        if (!re.test(n)) continue;
        gone.push(n);
        for (const d of domain ? [domain, ''] : ['']) D.cookie = `${n}=; Max-Age=0; Path=${path}${d && '; Domain=' + d}`;
      }
    }
  }
  return gone;
}

// ...and their web storage on this origin (best effort, see docs/privacy-teams/web-storage.md).
async function unstore(cs) {
  const res = cs.flatMap((c) => (cfg.storage[c] || []).map(glob)), hit = (n) => res.some((r) => r.test(n));
  const out = { localStorage: [], sessionStorage: [], indexedDB: [] };
  if (res.length) {
    for (const k of ['localStorage', 'sessionStorage']) {
      try { for (const n of Object.keys(W[k])) if (hit(n)) W[k].removeItem(n), out[k].push(n); } catch (e) {}
    }
    try {
      for (const { name } of await indexedDB.databases()) {
        if (!hit(name)) continue;
        out.indexedDB.push(name);
        await new Promise((ok) => {
          const r = indexedDB.deleteDatabase(name);
          r.onsuccess = r.onerror = r.onblocked = ok;
        });
      }
    } catch (e) {}
  }
  return out;
}

function sync() {
  for (const box of $$('input[data-consentgate-category]', root)) {
    const c = box.dataset.consentgateCategory;
    box.disabled = !!state.locked[c];
    box.checked = state.granted.includes(c);
    // Screen readers read hidden text: the lock's reason describes the switch only while it applies.
    box.setAttribute('aria-describedby', `cg-d-${c}${state.locked[c] ? ' cg-k-' + c : ''}`);
  }
  for (const n of $$('[data-consentgate-note="gpc"]', root)) n.hidden = !state.gpc;
  for (const n of $$('[data-consentgate-lock="gpc"]', root)) n.hidden = state.locked[n.id.slice(5)] !== 'gpc';
}

function say(text, error) {
  clearTimeout(timer);
  message.textContent = text;
  retry.hidden = !error;
  status.classList.toggle('cg-shown', !!text);
  status.classList.toggle('cg-error', !!error);
}

async function decide(body, method, quiet) {
  again = [body, method];
  if (!quiet) say(cfg.t.saving);
  const before = state.granted;
  try {
    const res = await fetch(cfg.endpoint, {
      method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, method, language: cfg.lang, ...(browserGpc && { gpc: true }) }),
    });
    if (!res.ok) throw new Error(`consentgate: saving the choice failed (HTTP ${res.status})`);
    adopt((await res.json()).consent);
  } catch (err) {
    if (!quiet) {
      say(cfg.t.error, true);
      if (root.contains(D.activeElement)) retry.focus();
    }
    throw err;
  }
  again = null;
  const gone = before.filter((c) => !state.granted.includes(c));
  const cleared = { cookies: wipe(gone), ...(await unstore(gone)) };
  gtag('consent', 'update', modes(state.granted)); // R-GCM-2
  sync();
  gate();
  const wasIn = notice.contains(D.activeElement) || status.contains(D.activeElement);
  notice.hidden = true;
  fab.hidden = false;
  if (dialog.open) dialog.close();
  else if (wasIn) fab.focus();
  if (!quiet) {
    say(cfg.t.saved);
    timer = setTimeout(say, 6000, '');
  }
  const detail = { ...get(), cleared };
  D.dispatchEvent(new CustomEvent('consentgate:change', { detail }));
  return detail;
}

function show() {
  if (dialog.open) return;
  last = D.activeElement;
  sync();
  dialog.append(status);
  dialog.showModal();
}

dialog.addEventListener('close', () => {
  root.insertBefore(status, fab);
  const back = last && last !== D.body && last.isConnected && last.getClientRects().length ? last : null;
  (back || (notice.hidden ? fab : $('[data-consentgate="preferences"]'))).focus();
});

// Keep Tab inside the open dialog (R-A11Y-2); Escape closes it natively.
dialog.addEventListener('keydown', (e) => {
  if (e.key !== 'Tab') return;
  const f = $$('button:not([hidden]),input:not([disabled])', dialog).filter((el) => el.getClientRects().length);
  const edge = e.shiftKey ? f[0] : f[f.length - 1];
  if (D.activeElement === edge) {
    e.preventDefault();
    (e.shiftKey ? f[f.length - 1] : f[0]).focus();
  }
});

D.addEventListener('click', (e) => {
  const el = e.target.closest && e.target.closest('[data-consentgate]');
  if (!el) return;
  const act = el.dataset.consentgate;
  const where = (dialog.contains(el) ? 'dialog:' : root.contains(el) ? 'banner:' : 'page:') + act;
  const quietly = (p) => p.catch(() => {});
  if (act === 'open' || act === 'preferences') { e.preventDefault(); show(); }
  else if (act === 'close') dialog.close();
  else if (act === 'accept-all') quietly(decide({ action: 'accept_all' }, where));
  else if (act === 'deny-all') quietly(decide({ action: 'deny_all' }, where));
  else if (act === 'save') {
    const categories = $$('input[data-consentgate-category]', dialog)
      .filter((b) => b.checked && !b.disabled).map((b) => b.dataset.consentgateCategory);
    quietly(decide({ categories }, where));
  } else if (act === 'retry' && again) quietly(decide(...again));
});

adopt({ ...cfg, needs_choice: cfg.needs, is_student: cfg.student });
gtag('consent', 'default', { ...modes([]), security_storage: 'granted', wait_for_update: 500 }); // R-GCM-1
if (!state.needsChoice) {
  gtag('consent', 'update', modes(state.granted));
  const over = cfg.granted.filter((c) => state.locked[c] === 'gpc');
  if (browserGpc && over.length) {
    // A stored "accept" from before the browser sent GPC: tell the server too (R-GPC-2).
    decide({ categories: state.granted.filter((c) => c !== 'essential') }, 'gpc:browser', true).catch(() => {});
  }
}
sync();
if (state.needsChoice) D.body.prepend(root); // first in the Tab order while it asks
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
