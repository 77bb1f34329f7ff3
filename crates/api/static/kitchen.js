// The kitchen display: open tickets as cards with age timers, bumped through
// pending → preparing → ready → served. Live over the realtime hub; reloads
// from the api whenever the hub cannot replay what was missed.
"use strict";

(() => {
  const { api, el, $, show, banner, store } = Outpost;
  const KEY = "outpost.kds.device";
  const NEXT = { pending: "preparing", preparing: "ready", ready: "served" };
  const LABEL = { pending: "Start", preparing: "Ready", ready: "Served" };
  const opts = { deviceKey: KEY };
  const tickets = new Map(); // id -> ticket (with its version)
  const dismissed = new Set(); // cancelled tickets this screen has acknowledged
  let audio = null;

  function screen(id) { for (const s of ["#pair", "#board"]) show(s, s === id); }

  async function start() {
    if (!store.getItem(KEY)) return showPair();
    screen("#board");
    await reload();
    Outpost.realtime({
      channels: ["kitchen"],
      apiOpts: opts,
      onEvent: (m) => apply(m.data, m.event_type === "ticket.created"),
      onReload: () => reload(),
      onState: (s) => {
        show("#offline", s !== "online");
        $("#kds-state").className = "dot " + (s === "online" ? "on" : "off");
        $("#kds-state").textContent = s === "online" ? "live" : "offline";
      },
    });
    setInterval(tick, 1000);
  }

  Outpost.pairing("display", KEY, () => start());
  function showPair() {
    screen("#pair");
    $("#pair-code").focus();
  }

  async function reload() {
    try {
      const list = await api("GET", "/api/v1/kitchen/tickets", undefined, opts);
      tickets.clear();
      for (const t of list) tickets.set(t.id, t);
      render();
    } catch (e) {
      if (e.status === 401) { store.removeItem(KEY); return showPair(); }
      banner(e.message);
    }
  }

  // Events may arrive after a reload already showed their effect: the
  // ticket's version decides.
  function apply(t, isNew) {
    const have = tickets.get(t.id);
    if (have && have.version >= t.version) return;
    tickets.set(t.id, t);
    // A ticket the till printed itself (the edge was away) is on paper in
    // the kitchen already: no chime.
    if ((isNew && !t.printed_at_register) || t.status === "cancelled") beep();
    render();
  }

  async function bump(t) {
    try {
      apply(await api("POST", `/api/v1/kitchen/tickets/${t.id}/status`, { status: NEXT[t.status] }, opts), false);
    } catch (e) {
      banner(e.message);
      if (e.status === 409) reload();
    }
  }

  function age(ms) {
    const s = Math.max(0, Math.floor((Date.now() - ms) / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  // Timers and colours update in place every second; cards are rebuilt only
  // when tickets change, so a button is never replaced under a finger.
  function tick() {
    for (const card of document.querySelectorAll("article.ticket")) {
      const t = tickets.get(card.dataset.id);
      if (!t) continue;
      const mins = (Date.now() - t.created_at) / 60000;
      card.querySelector(".age").textContent = age(t.created_at);
      card.classList.toggle("slow", mins >= 5 && mins < 10);
      card.classList.toggle("late", mins >= 10);
    }
  }

  function render() {
    const open = [...tickets.values()].filter((t) => t.status !== "served" && !dismissed.has(t.id)).sort((a, b) => a.created_at - b.created_at);
    $("#kds-count").textContent = `${open.length} open`;
    $("#tickets").replaceChildren(...open.map((t) => {
      let lines = [];
      try { lines = JSON.parse(t.lines_json); } catch (_) { lines = []; }
      const mins = (Date.now() - t.created_at) / 60000;
      return el("article", { class: `ticket ${t.status}${mins >= 10 ? " late" : mins >= 5 ? " slow" : ""}`, "data-id": t.id, "data-order": t.order_number },
        el("header", {}, el("strong", {}, t.order_number), el("span", { class: "age" }, age(t.created_at))),
        el("ul", {}, ...lines.map((l) => el("li", {}, el("b", {}, `${Outpost.qty(l.qty_milli)} ×`), " ", l.name))),
        t.note ? el("p", { class: "note" }, t.note) : null,
        t.printed_at_register ? el("p", { class: "at-register" }, "printed at register") : null,
        t.status === "cancelled"
          ? el("footer", {}, el("span", { class: "status" }, "VOIDED — stop"),
            el("button", { class: "bump", onclick: () => { dismissed.add(t.id); render(); } }, "Dismiss"))
          : el("footer", {}, el("span", { class: "status" }, t.status),
            el("button", { class: "primary bump", onclick: () => bump(t) }, LABEL[t.status])));
    }));
  }

  // A short two-tone chime from WebAudio (no sound files); browsers allow it
  // only after a tap, hence the button.
  function beep() {
    if (!audio) return;
    const o = audio.createOscillator(), g = audio.createGain();
    o.connect(g); g.connect(audio.destination);
    o.frequency.setValueAtTime(880, audio.currentTime);
    o.frequency.setValueAtTime(1320, audio.currentTime + 0.12);
    g.gain.setValueAtTime(0.2, audio.currentTime);
    g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
    o.start(); o.stop(audio.currentTime + 0.35);
  }
  $("#kds-sound").addEventListener("click", () => {
    if (audio) { audio.close(); audio = null; } else { audio = new (window.AudioContext || window.webkitAudioContext)(); beep(); }
    $("#kds-sound").textContent = audio ? "Sound on" : "Sound off";
  });

  start();
})();
