// consentgate click-to-load placeholders, imported by consentgate.js on pages with gated embeds
// (<iframe data-consent-category data-src>, <div data-consent-category> with a <template>).
// el.p: the embed's placeholder; el.once: loaded by "Load this once" (this page view only).
const D = document, cg = window.consentgate, $ = (s, el = D) => el.querySelector(s);
const cfg = JSON.parse($('[data-consentgate="config"]').textContent);
const cats = (el) => el.dataset.consentCategory.split(/\s+/);
const fill = (s, v) => s.replace(/\{(\w+)\}/g, (m, k) => (k in v ? v[k] : m));

function embeds() {
  const { granted, locked } = cg.get();
  for (const el of D.querySelectorAll('iframe[data-consent-category][data-src],div[data-consent-category]')) {
    if (!el.dataset.src && !$('template', el)) continue; // a <div> holds its widget in a <template>
    if (cats(el).every((c) => granted.includes(c))) load(el, (el.once = 0));
    else if (!el.once && !el.p) cover(el, locked);
  }
}

function load(el) {
  const p = el.p, back = p && p.contains(D.activeElement);
  if (p) p.remove(), (el.p = el.hidden = null);
  if (el.dataset.src) el.getAttribute('src') === el.dataset.src || (el.src = el.dataset.src);
  else el.on || el.append($('template', el).content.cloneNode((el.on = 1)));
  if (back) (el.tabIndex = el.tabIndex), el.focus(); // a <div> gets tabindex=-1
}

function cover(el, locked) {
  const c = cats(el), src = el.dataset.src, host = src && new URL(src, location).hostname;
  const all = (i) => c.flatMap((x) => (cfg.cat[x] || [x, []])[i]);
  // The hosts and cookies: the policy's [embeds.services] entry, else the frame's host (or the
  // category's hosts) and the category's cookies.
  const service = el.dataset.consentService || host || all(0).join(', ');
  const [hosts, cookies] = cfg.svc[service] || [
    host ? [host] : all(1), c.flatMap((x) => (cfg.cookies[x] || []).map((rule) => rule[0])),
  ];
  const v = { service, category: all(0).join(', '), hosts: hosts.join(', ') || location.host, cookies: cookies.join(', ') };
  const p = (el.p = $('[data-consentgate="embed"]').content.firstElementChild.cloneNode(true));
  const why = c.map((x) => locked[x]).find(Boolean); // a student's or GPC's lock: nothing may grant it
  for (const n of p.querySelectorAll('*')) {
    for (const a of n.attributes) a.value = fill(a.value, v);
    if (!n.firstElementChild) n.textContent = fill(n.textContent, v);
  }
  $(`[data-if="${v.cookies ? '' : 'cookies'}"]`, p).remove();
  if (why) ($(`[data-lock="${why}"]`, p).hidden = false), ($('.cg-ph-a', p).hidden = true);
  else $('[data-consentgate="embed-once"]', p).hidden = !cfg.once;
  p.e = el;
  if (!src) return el.replaceChildren($('template', el), p), (el.on = 0);
  // The frame's box (measured before it is hidden), its ratio kept when narrower; 16:9 by default.
  const r = el.getBoundingClientRect(), s = getComputedStyle(el), w = r.width || +el.width || 300;
  Object.assign(p.style, { width: w + 'px', aspectRatio: `${w}/${r.height || +el.height || w * 0.5625}`, margin: s.margin, verticalAlign: s.verticalAlign });
  if (s.display !== 'inline') p.style.display = s.display;
  if (el.hasAttribute('src')) el.src = 'about:blank'; // withdrawn: the third party's page goes
  el.before(p);
  el.hidden = 1;
}

D.addEventListener('click', (ev) => {
  const b = ev.target.closest && ev.target.closest('.cg-ph [data-consentgate^="embed-"]'), el = b && b.closest('.cg-ph').e;
  if (!el) return;
  if (b.dataset.consentgate === 'embed-once') return load(el, (el.once = 1));
  // The decision the preferences dialog would record with this embed's categories ticked too;
  // under an enforced consent-aware CSP the embed's host is allowed from the next page on.
  const granted = cg.get().granted.filter((c) => c !== 'essential');
  cg.save([...new Set([...granted, ...cats(el)])], 'placeholder')
    .then(() => cfg.reload && location.reload(), () => {}); // the banner shows failures
});
D.addEventListener('consentgate:change', embeds);
embeds();
