// A connection to the realtime hub that never loses its place: it keeps the
// last (epoch, offset) per channel, resumes from it after any disconnect, and
// tells the page when it must reload state instead (recovered: false). Tickets
// come from the api and are refreshed on the open connection before expiry.
"use strict";

Outpost.realtime = function (opts) {
  const { api } = Outpost;
  const at = {}; // channel -> { epoch, offset }
  let ws = null, backoff = 500, refreshTimer = null, closedByUs = false;

  async function ticket() {
    return api("POST", "/api/v1/realtime/tickets", {}, opts.apiOpts || {});
  }

  async function connect() {
    let t;
    try { t = await ticket(); } catch (e) {
      opts.onState && opts.onState("offline", e.message);
      return retry();
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = t.url || `${scheme}://${location.hostname}:${t.hub_port}/ws`;
    ws = new WebSocket(`${url}?ticket=${encodeURIComponent(t.ticket)}`);
    ws.onopen = () => {
      backoff = 500;
      const channels = opts.channels.map((c) => (at[c] ? { channel: c, epoch: at[c].epoch, offset: at[c].offset } : { channel: c }));
      ws.send(JSON.stringify({ type: "subscribe", channels }));
      scheduleRefresh(t.expires_at);
      opts.onState && opts.onState("online");
    };
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === "event") {
        const cur = at[msg.channel];
        if (cur && cur.epoch === msg.epoch && msg.offset <= cur.offset) return; // already applied
        at[msg.channel] = { epoch: msg.epoch, offset: msg.offset };
        opts.onEvent && opts.onEvent(msg);
      } else if (msg.type === "subscribed") {
        at[msg.channel] = { epoch: msg.epoch, offset: msg.offset };
        if (!msg.recovered) opts.onReload && opts.onReload(msg.channel);
      } else if (msg.type === "presence") {
        opts.onPresence && opts.onPresence(msg.online);
      } else if (msg.type === "error") {
        opts.onState && opts.onState("error", msg.detail);
      }
    };
    ws.onclose = () => {
      clearTimeout(refreshTimer);
      ws = null;
      if (closedByUs) return;
      opts.onState && opts.onState("offline");
      retry();
    };
  }

  function retry() {
    const wait = backoff * (0.75 + Math.random() / 2);
    backoff = Math.min(backoff * 2, 5000);
    setTimeout(connect, wait);
  }

  function scheduleRefresh(expiresAt) {
    clearTimeout(refreshTimer);
    const inMs = Math.max(1000, (expiresAt - Date.now()) / 2);
    refreshTimer = setTimeout(async () => {
      try {
        const t = await ticket();
        if (ws && ws.readyState === WebSocket.OPEN) {
          ws.send(JSON.stringify({ type: "auth", ticket: t.ticket }));
          scheduleRefresh(t.expires_at);
        }
      } catch (_) { scheduleRefresh(Date.now() + 10000); }
    }, inMs);
  }

  connect();
  return { close() { closedByUs = true; if (ws) ws.close(); } };
};
