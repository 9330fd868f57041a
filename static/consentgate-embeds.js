// consentgate placeholders (docs/developers/embeds.md). el.p: the placeholder; el.once: loaded once
const D = document, cg = consentgate, $ = (s, el = D) => el.querySelector(s);
const cfg = JSON.parse($('[data-consentgate=policy]').text), cats = (el) => el.dataset.consentCategory.split(/\s+/);
const fill = (s, v) => s.replace(/\{(\w+)\}/g, (m, k) => v[k] ?? m);

function embeds() {
  const { granted, locked } = cg.get();
  for (const el of D.querySelectorAll('iframe[data-consent-category][data-src],div[data-consent-category]')) {
    if (!el.dataset.src && !$('template', el)) continue;
    if (cats(el).every((c) => granted.includes(c))) load(el, (el.once = 0));
    else if (!el.once && !el.p) cover(el, locked);
  }
}

function load(el) {
  const p = el.p, back = p?.contains(D.activeElement), src = el.dataset.src;
  if (p) p.remove(), (el.p = el.hidden = null);
  if (src) el.getAttribute('src') == src || (el.src = src);
  else el.on || el.append($('template', el).content.cloneNode((el.on = 1)));
  if (back) (el.tabIndex = el.tabIndex), el.focus(); // a <div> gets tabindex=-1
}

function cover(el, locked) {
  const c = cats(el), src = el.dataset.src, host = src && new URL(src, location).hostname;
  const all = (i) => c.flatMap((x) => (cfg.cat[x] || [x, [], []])[i]);
  const category = all(0).join(', '), service = el.dataset.consentService || host || category;
  const [hosts, cookies] = cfg.svc[service] || [host ? [host] : all(1), all(2)];
  const v = { service, category, hosts: hosts.join(', ') || location.host, cookies: cookies.join(', ') };
  const p = (el.p = $('[data-consentgate=embed]').content.firstElementChild.cloneNode(1)), why = c.map((x) => locked[x]).find(Boolean);
  for (const n of p.querySelectorAll('*')) {
    for (const a of n.attributes) a.value = fill(a.value, v);
    if (!n.firstElementChild) n.textContent = fill(n.textContent, v);
  }
  $(`[data-if="${v.cookies ? '' : 'cookies'}"]`, p).remove();
  if (why) ($(`[data-lock=${why}]`, p).hidden = 0), ($('.cg-ph-a', p).hidden = 1);
  p.e = el;
  if (!src) return el.replaceChildren($('template', el), p), (el.on = 0);
  const r = el.getBoundingClientRect(), s = getComputedStyle(el), w = r.width || +el.width || 300;
  const { margin, verticalAlign, display } = s, h = r.height || +el.height || (w * 9) / 16;
  Object.assign(p.style, { width: w + 'px', aspectRatio: `${w}/${h}`, margin, verticalAlign, display: display == 'inline' ? '' : display });
  if (el.hasAttribute('src')) el.src = 'about:blank';
  el.before(p);
  el.hidden = 1;
}

D.addEventListener('click', (e) => {
  const b = e.target.closest?.('.cg-ph [data-consentgate^=embed-]'), el = b?.closest('.cg-ph').e;
  if (!el) return;
  if (b.dataset.consentgate == 'embed-once') return load(el, (el.once = 1));
  const granted = cg.get().granted.filter((c) => c != 'essential');
  cg.save([...new Set([...granted, ...cats(el)])], 'placeholder').then(() => cfg.reload && location.reload(), () => {});
});
D.addEventListener('consentgate:change', embeds);
embeds();
