// Shared helpers for the register and manager pages: API calls with problem
// JSON errors, UUIDv7 idempotency keys, money formatting, tiny DOM helpers.
"use strict";

const Outpost = (() => {
  const store = window.localStorage;

  // Problem JSON (RFC 9457) becomes an Error whose message is the detail.
  async function api(method, path, body, opts = {}) {
    // Our clock, so the server can warn when a register's or its own is wrong.
    const headers = { Accept: "application/json", "X-Client-Time": String(Date.now()) };
    const session = opts.session === undefined ? store.getItem(opts.sessionKey || "outpost.session") : opts.session;
    if (session) headers.Authorization = "Bearer " + session;
    const device = store.getItem(opts.deviceKey || "outpost.device");
    if (device && opts.device !== false) headers["X-Device-Token"] = device;
    if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      const err = new Error("Cannot reach the store server. Check the network cable or Wi-Fi; nothing was charged.");
      err.network = true;
      throw err;
    }
    if (res.status === 204) return null;
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!res.ok) {
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

  const EXP = { JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, UGX: 0, XAF: 0, XOF: 0, BHD: 3, KWD: 3, JOD: 3, OMR: 3, TND: 3 };
  function money(minor, currency) {
    const e = EXP[currency] === undefined ? 2 : EXP[currency];
    const neg = minor < 0 ? "-" : "";
    const a = Math.abs(minor);
    if (e === 0) return `${neg}${a} ${currency || ""}`.trim();
    const d = 10 ** e;
    return `${neg}${Math.floor(a / d)}.${String(a % d).padStart(e, "0")} ${currency || ""}`.trim();
  }
  // "12.34" → 1234 (for the currency's decimals); null when not a number.
  function parseMoney(text, currency) {
    const e = EXP[currency] === undefined ? 2 : EXP[currency];
    const t = String(text).trim().replace(",", ".");
    if (!/^\d+(\.\d*)?$/.test(t)) return null;
    const [i, f = ""] = t.split(".");
    if (f.length > e) return null;
    return Number(i) * 10 ** e + Number((f + "0".repeat(e)).slice(0, e) || 0);
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

  // The pairing form (#pair-staff, #pair-pin, #pair-name, #pair-go): a manager
  // signs in once, the browser is paired as a device of `kind`, the manager's
  // session ends, and the device token is kept under `key`.
  async function listManagers() {
    try {
      const r = await api("GET", "/api/v1/login-staff", undefined, { device: false, session: null });
      $("#pair-staff").replaceChildren(...r.staff.map((s) => el("option", { value: s.id }, `${s.name} (${s.role})`)));
    } catch (e) { banner(e.message); }
  }
  function pairing(kind, key, onPaired) {
    $("#pair-go").addEventListener("click", async () => {
      try {
        const s = await api("POST", "/api/v1/sessions", { staff_id: $("#pair-staff").value, pin: $("#pair-pin").value }, { device: false, session: null });
        const p = await api("POST", "/api/v1/devices", { name: $("#pair-name").value, kind }, { session: s.token, device: false });
        await api("DELETE", "/api/v1/sessions/current", undefined, { session: s.token, device: false });
        store.setItem(key, p.token);
        $("#pair-pin").value = "";
        onPaired(p);
      } catch (e) { banner(e.message); }
    });
    return listManagers;
  }

  return { api, uuidv7, money, parseMoney, qty, el, $, show, banner, store, pairing };
})();
