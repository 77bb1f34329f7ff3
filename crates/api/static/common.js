// Shared helpers for the register and manager pages: API calls with problem
// JSON errors, UUIDv7 idempotency keys, money formatting, tiny DOM helpers.
"use strict";

const Outpost = (() => {
  const store = window.localStorage;
  // Served by a till's register agent, the page carries the agent's token
  // for this start: every call sends it, and it is this till's device there.
  const pageMeta = document.querySelector('meta[name="outpost-page"]');
  const pageToken = pageMeta && /^[0-9a-f]{64}$/.test(pageMeta.content) ? pageMeta.content : "";
  if (pageToken) store.setItem("outpost.device", pageToken);
  // Which page this is ("register" or "office"): its session is a cookie
  // the server sets at sign-in (HttpOnly: no script here ever holds it),
  // and every call names the page so the server knows which cookie.
  let page = null;
  function setPage(p) {
    page = p;
    // Tokens an older version of this page kept where scripts read them.
    store.removeItem("outpost.session");
    store.removeItem("outpost.office");
  }
  const pageHeaders = () => ({ ...(pageToken ? { "X-Page-Token": pageToken } : {}), ...(page ? { "X-Outpost-Page": page } : {}) });
  // The agent restarted (a new token): reload to get the new one. The cart
  // is in localStorage, so it stays. At most once a minute, so a page the
  // agent refuses for another reason does not reload forever.
  function reloadIfStale(status, problem) {
    if (!pageToken || status !== 403 || !problem || !String(problem.type || "").endsWith("/not-this-page")) return;
    const last = Number(window.sessionStorage.getItem("outpost.reloaded") || 0);
    if (Date.now() - last < 60000) return;
    window.sessionStorage.setItem("outpost.reloaded", String(Date.now()));
    window.location.reload();
  }

  // Problem JSON (RFC 9457) becomes an Error whose message is the detail.
  async function api(method, path, body, opts = {}) {
    // Our clock, so the server can warn when a register's or its own is wrong.
    const headers = { Accept: "application/json", "X-Client-Time": String(Date.now()), ...pageHeaders() };
    const device = store.getItem(opts.deviceKey || "outpost.device");
    if (device && opts.device !== false) headers["X-Device-Token"] = device;
    if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    // A request that hangs (a link that went silent) is given up after
    // opts.timeoutMs: the caller then treats it as unanswered.
    const abort = opts.timeoutMs ? new AbortController() : null;
    const timer = abort ? setTimeout(() => abort.abort(), opts.timeoutMs) : null;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: abort ? abort.signal : undefined });
    } catch (e) {
      clearTimeout(timer);
      const err = new Error("Cannot reach the store server. Check the network cable or Wi-Fi.");
      err.network = true;
      throw err;
    }
    let text;
    try { text = await res.text(); } catch (_) { text = ""; } finally { clearTimeout(timer); }
    if (res.status === 204) return null;
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!res.ok) {
      reloadIfStale(res.status, data);
      const err = new Error((data && (data.detail || data.title)) || ("HTTP " + res.status));
      err.status = res.status;
      err.problem = data;
      throw err;
    }
    return data;
  }

  // UUIDv7 (time-ordered), built from getRandomValues: crypto.randomUUID is
  // missing on plain-HTTP LAN pages.
  function uuidv7() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    let ms = Date.now();
    for (let i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // The store's money, from /api/v1/money (the currency table and the
  // store's locale the server uses too): load it before showing an amount.
  let M = null;
  let fmt = null;
  let plainFmt = null;
  async function loadMoney() {
    const r = await fetch("/api/v1/money", { headers: { Accept: "application/json", ...pageHeaders() } });
    if (!r.ok) throw new Error("Cannot read the store's currency (HTTP " + r.status + ")");
    return useMoney(await r.json());
  }
  // Formats and parses by `m` (an /api/v1/money answer) from now on.
  let fullFmt = null;
  let fullPlain = null;
  function useMoney(m) {
    M = m;
    const o = (d) => ({ minimumFractionDigits: d, maximumFractionDigits: d });
    // What people see: without decimals a coarse rounding unit keeps at
    // zero (whole rupiah); the full exponent only for an amount that has them.
    fmt = new Intl.NumberFormat(M.locale, o(M.decimals));
    plainFmt = new Intl.NumberFormat(M.locale, { ...o(M.decimals), useGrouping: false });
    fullFmt = new Intl.NumberFormat(M.locale, o(M.exponent));
    fullPlain = new Intl.NumberFormat(M.locale, { ...o(M.exponent), useGrouping: false });
    return M;
  }
  function need() { if (!M) throw new Error("money used before loadMoney()"); return M; }
  // The store's currency entry and locale, as loaded.
  function moneyInfo() { return need(); }
  // `units` as the exact decimal string (with `e` decimals) Intl reads
  // without a float.
  function decimal(units, e) {
    const s = String(units).padStart(e + 1, "0");
    return e ? `${s.slice(0, -e)}.${s.slice(-e)}` : s;
  }
  function written(minor, shown, full) {
    const m = need();
    const a = Math.abs(minor);
    const sign = minor < 0 ? "-" : "";
    if (a % m.shown_step === 0) return sign + shown.format(decimal(a / m.shown_step, m.decimals));
    return sign + full.format(decimal(a, m.exponent));
  }
  // 123450 → "1.234,50 EUR" in the store's locale; the sign is always a plain "-".
  function money(minor) {
    return `${written(minor, fmt, fullFmt)} ${need().currency}`;
  }
  // The amount alone, without grouping: what an input field is prefilled with.
  function plain(minor) {
    return written(minor, plainFmt, fullPlain);
  }
  // What a person typed → minor units, by the store's locale and exponent;
  // null when it is not an amount (the same rules as the server's).
  function parseMoney(text) {
    const m = need();
    const e = m.decimals;
    let t = String(text).trim().replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x660));
    const dotIsDecimal = m.group !== ".";
    let cut = -1;
    for (let i = t.length - 1; i >= 0; i--) if (t[i] === m.decimal || (t[i] === "." && dotIsDecimal)) { cut = i; break; }
    const whole = cut < 0 ? t : t.slice(0, cut);
    const frac = cut < 0 ? "" : t.slice(cut + 1);
    const seps = new Set([m.group, " ", "\u00a0", "\u202f"]);
    const groups = [];
    let cur = "";
    for (const ch of whole) { if (seps.has(ch)) { groups.push(cur); cur = ""; } else cur += ch; }
    groups.push(cur);
    const digits = (s) => /^\d+$/.test(s);
    const indian = m.locale === "en-IN" || m.locale === "hi-IN";
    if (groups.length > 1 && !indian && !(digits(groups[0]) && groups[0].length <= 3 && groups.slice(1).every((g) => g.length === 3 && digits(g)))) return null;
    const w = groups.join("");
    if (!digits(w) || (frac && !digits(frac)) || frac.length > e || w.length > 15) return null;
    return (Number(w) * 10 ** e + (frac ? Number(frac) * 10 ** (e - frac.length) : 0)) * m.shown_step;
  }
  // `minor` rounded to the cash unit (CHF 0.05), half away from zero.
  function cashRound(minor) {
    const u = need().cash_rounding_minor;
    return u <= 1 ? minor : Math.sign(minor) * Math.round(Math.abs(minor) / u) * u;
  }
  // Amounts worth offering for cash due `due`: exact, then rounded up to
  // each coin and note, the first few.
  function quickCash(due) {
    const m = need();
    const exact = cashRound(due);
    const ups = [...m.coins, ...m.notes].filter((d) => d * 2 > m.cash_rounding_minor).map((d) => Math.ceil(exact / d) * d);
    return [exact, ...ups.filter((v) => v > exact)].filter((v, i, a) => a.indexOf(v) === i).sort((a, b) => a - b).slice(0, 5);
  }
  // An X or Z report as text: every figure the server reconciled.
  function reportText(r) {
    return [
      `${r.kind} report · business day ${r.shift.business_day}`,
      `Opening float: ${money(r.shift.opening_float_minor)}`,
      `Orders paid: ${r.orders}`, `Sales: ${money(r.sales_total_minor)} (tax ${money(r.tax_total_minor)})`,
      `Refunds: ${money(r.refunds_total_minor)}`,
      ...r.payments.map((p) => `Paid ${p.method}: ${p.count} × = ${money(p.amount_minor)}`),
      ...r.refunds.map((p) => `Refunded ${p.method}: ${p.count} × = ${money(p.amount_minor)}`),
      ...(r.rounding_minor ? [`Cash rounding: ${money(r.rounding_minor)}`] : []),
      `Cash in/out: ${money(r.cash_in_out_minor)}`, `Expected cash in drawer: ${money(r.expected_cash_minor)}`,
      ...(r.counted_cash_minor === null ? [] : [`Counted: ${money(r.counted_cash_minor)} · difference ${money(r.difference_minor)}`]),
      ...(r.open_orders.length ? [`Unpaid orders (not sales${r.kind === "Z" ? ", carried over" : ""}): ${r.open_orders.map((o) => `${o.number} ${money(o.total_minor)}`).join(", ")}`] : []),
    ].join("\n");
  }
  function qty(milli, weighed) {
    return weighed || milli % 1000 ? (milli / 1000).toFixed(3) : String(milli / 1000);
  }

  function el(tag, attrs = {}, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else if (k === "class") n.className = v;
      else if (v !== undefined && v !== null && v !== false) n.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) n.append(c.nodeType ? c : String(c));
    return n;
  }
  const $ = (sel) => document.querySelector(sel);
  function show(id, on = true) { $(id).hidden = !on; }

  let bannerTimer;
  function banner(msg, kind = "error") {
    const b = $("#banner");
    b.textContent = msg;
    b.className = "banner " + kind;
    b.hidden = false;
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(() => { b.hidden = true; }, kind === "error" ? 8000 : 4000);
  }

  // The pairing form: a one-time code from the manager page (#pair-code,
  // #pair-code-go), never a PIN typed on a device not yet trusted. The
  // device token is kept under `key`.
  function pairing(kind, key, onPaired) {
    // A one-time code from the manager page: no PIN typed on this screen.
    const byCode = async () => {
      if ($("#pair-code-go").disabled) return; // Enter and a click: one request
      $("#pair-code-go").disabled = true;
      try {
        const p = await api("POST", "/api/v1/pairing-codes/redeem", { code: $("#pair-code").value, kind }, { device: false });
        store.setItem(key, p.token);
        $("#pair-code").value = "";
        onPaired(p);
      } catch (e) { banner(e.message); } finally { $("#pair-code-go").disabled = false; }
    };
    $("#pair-code-go").addEventListener("click", byCode);
    $("#pair-code").addEventListener("keydown", (e) => { if (e.key === "Enter") byCode(); });
  }

  return { api, uuidv7, loadMoney, useMoney, money, plain, parseMoney, cashRound, quickCash, reportText, moneyInfo, qty, el, $, show, banner, store, pairing, agent: !!pageToken, pageHeaders, reloadIfStale, setPage };
})();
