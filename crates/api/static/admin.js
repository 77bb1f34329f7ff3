// The manager page: status, registers, staff and PINs, products and prices,
// printers, stock and counts, shifts with X/Z reports, the adjustment queue,
// the audit log.
"use strict";
(() => {
  const { api, loadMoney, money, plain, parseMoney, qty, el, $, show, banner, store } = Outpost;
  // This computer's device token, when it was paired as an office (away
  // from the store server's own screen, signing in needs one).
  const DEVICE = "outpost.office.device";
  const opts = { deviceKey: DEVICE };
  const call = (m, p, b) => api(m, p, b, opts);
  Outpost.setPage("office");
  let currency = "EUR";
  // Screens online now, from the realtime hub's presence channel.
  let online = null, presence = null;

  async function start() {
    try { currency = (await loadMoney()).currency; } catch (e) { return banner(e.message); }
    // Still signed in (the session cookie is alive)?
    try { const me = await call("GET", "/api/v1/me"); return enter(me); } catch (_) { /* sign in */ }
    show("#app", false); show("#pair", false); show("#login");
    try {
      const r = await call("GET", "/api/v1/login-staff");
      $("#login-staff").replaceChildren(...r.staff.map((s) => el("option", { value: s.id }, `${s.name} (${s.role})`)));
    } catch (e) {
      // Not paired (or this computer was revoked): pair with a code first.
      const type = String((e.problem && e.problem.type) || "");
      if (type.endsWith("/pair-first") || (e.status === 401 && store.getItem(DEVICE))) {
        store.removeItem(DEVICE);
        show("#login", false); show("#pair");
        $("#pair-code").focus();
        return;
      }
      banner(e.message);
    }
  }
  Outpost.pairing("office", DEVICE, (p) => { banner(`Paired as “${p.device.name}”`, "ok"); start(); });
  $("#login-go").addEventListener("click", async () => {
    try {
      await call("POST", "/api/v1/sessions", { staff_id: $("#login-staff").value, pin: $("#login-pin").value });
      $("#login-pin").value = "";
      enter(await call("GET", "/api/v1/me"));
    } catch (e) { $("#login-pin").value = ""; banner(e.message); }
  });
  function renderOnline() {
    const box = document.querySelector("#online");
    if (!box) return;
    if (!online) { box.replaceChildren(el("p", {}, "The realtime hub is not reachable: screens may not be updating.")); return; }
    box.replaceChildren(online.length
      ? table(["Screen", "Kind", "Connected since", "Connections"], online.map((d) => el("tr", {}, el("td", {}, d.name), el("td", {}, d.kind), el("td", {}, when(d.since)), el("td", {}, d.connections))))
      : el("p", {}, "No screen is connected."));
  }
  $("#logout").addEventListener("click", async () => { if (presence) { presence.close(); presence = null; } try { await call("DELETE", "/api/v1/sessions/current"); } catch (_) { /* gone anyway */ } start(); });

  const tabs = { Status: status, Registers: registers, Printers: printerTab, Staff: staff, Products: products, Stock: stock, Shifts: shifts, Adjustments: adjustments, Audit: audit };
  function enter(me) {
    show("#login", false); show("#app");
    $("#who").textContent = `${me.name} · ${me.role}`;
    $("#tabs").replaceChildren(...Object.keys(tabs).map((t) => el("button", { "data-tab": t, onclick: () => open(t) }, t)));
    if (!presence) {
      presence = Outpost.realtime({
        channels: ["presence"],
        apiOpts: opts,
        onPresence: (list) => { online = list; renderOnline(); },
        onState: (s) => { if (s !== "online") { online = null; renderOnline(); } },
      });
    }
    open("Status");
  }
  async function open(t) {
    for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === t);
    try { $("#main").replaceChildren(...[].concat(await tabs[t]())); renderOnline(); } catch (e) { banner(e.message); }
  }
  const table = (head, rows) => el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))), el("tbody", {}, ...rows));
  const when = (ms) => (ms ? new Date(ms).toLocaleString() : "");
  const form = (fields, label, onsubmit) => el("form", { class: "inline", onsubmit: async (e) => { e.preventDefault(); try { await onsubmit(new FormData(e.target)); } catch (err) { banner(err.message); } } },
    ...fields, el("button", { class: "primary", type: "submit" }, label));
  const input = (name, label, attrs = {}) => el("label", {}, label, el("input", { name, ...attrs }));

  async function status() {
    const h = await fetch("/health").then((r) => r.json());
    const o = await call("GET", "/api/v1/outbox");
    const comp = Object.entries(h.components).map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", { class: "status-" + v.status }, v.status),
      el("td", {}, JSON.stringify(Object.fromEntries(Object.entries(v).filter(([x]) => x !== "status"))))));
    return [el("h2", {}, `Edge ${h.store}: `, el("span", { class: "status-" + h.status }, h.status), ` · version ${h.version} · up ${h.uptime_s}s`),
      table(["Component", "Status", "Details"], comp),
      el("h2", {}, "Event streams"),
      table(["Stream", "Last position"], Object.entries(o.streams).map(([s, p]) => el("tr", {}, el("td", {}, s), el("td", {}, p)))),
      el("p", {}, `Events waiting for the relay: ${o.unrelayed}`),
      el("h2", {}, "Cloud sync"), syncSummary(h.components.sync || {}),
      el("h2", {}, "Screens online"), el("div", { id: "online" })];
  }

  // The sync worker's state in words: staff should see at a glance whether
  // sales are reaching the cloud, and how much is waiting.
  function syncSummary(s) {
    if (!s.configured && !s.online) return el("p", {}, "No cloud is configured: this store runs on its own.");
    const age = (sec) => (sec == null ? "" : sec < 120 ? `${sec} s` : sec < 7200 ? `${Math.round(sec / 60)} min` : `${Math.round(sec / 3600)} h`);
    const lines = [
      el("p", { class: "status-" + (s.online ? "ok" : "degraded") }, s.online ? "Connected to the cloud." : "Not connected to the cloud: sales are kept here and sent when the link returns."),
      el("p", {}, `Waiting to send: ${s.pending_events ?? 0} events (${Math.round((s.pending_bytes || 0) / 1024)} KiB)` + (s.oldest_unsent_age_s != null ? `, the oldest from ${age(s.oldest_unsent_age_s)} ago` : "") + "."),
    ];
    if (s.last_success_ms_ago != null) lines.push(el("p", {}, `Last successful contact: ${age(Math.round(s.last_success_ms_ago / 1000))} ago.`));
    if (s.warning) lines.push(el("p", { class: "status-degraded" }, `Warning: ${s.warning}.`));
    if (s.last_error) lines.push(el("p", { class: "status-degraded" }, `Last error: ${s.last_error}`));
    return el("div", {}, ...lines);
  }

  async function registers() {
    const list = await call("GET", "/api/v1/devices");
    const ca = await call("GET", "/api/v1/store/ca").catch(() => null);
    const parked = await call("GET", "/api/v1/register-events/parked");
    return [el("h2", {}, "Registers and displays"),
      table(["No.", "Name", "Kind", "Orders", "Paired", "State", ""], list.map((d) => el("tr", {}, el("td", {}, d.register_no), el("td", {}, d.name), el("td", {}, d.kind), el("td", {}, d.last_seq), el("td", {}, when(d.created_at)),
        el("td", {}, d.revoked_at ? "revoked" : "active"),
        el("td", {}, d.revoked_at ? "" : el("button", { onclick: async () => { if (!confirm(`Revoke ${d.name}?`)) return; try { await call("DELETE", "/api/v1/devices/" + d.id); open("Registers"); } catch (e) { banner(e.message); } } }, "Revoke"))))),
      parked.length ? el("h2", { id: "parked" }, "Till events refused") : null,
      parked.length ? el("p", {}, "The server could not take these events from a till. The rest of the till's sales went on; these did not. Deal with each (re-enter the sale, fix the product it names) and clear it.") : null,
      parked.length ? table(["Register", "When", "Event", "Why", ""], parked.map((p) => el("tr", {}, el("td", {}, p.register), el("td", {}, when(p.at)), el("td", {}, p.event_type), el("td", {}, p.reason),
        el("td", {}, el("button", { "aria-label": `clear ${p.event_type} of ${p.register}`, onclick: async () => { if (!confirm("Clear this refused event? It stays recorded.")) return; try { await call("POST", `/api/v1/register-events/parked/${encodeURIComponent(p.event_id)}/clear`); open("Registers"); } catch (e) { banner(e.message); } } }, "Clear"))))) : null,
      el("h2", {}, "Pair a device"),
      el("p", {}, "Make a one-time code, open this server's address on the new register (or /kitchen on a kitchen screen) and type the code there. It works once, for 10 minutes."),
      form([input("name", "Device name", { required: true, maxlength: 100, value: "Register" }),
        el("label", {}, "Kind", el("select", { name: "kind" }, el("option", { value: "register" }, "register"), el("option", { value: "display" }, "kitchen display"), el("option", { value: "agent" }, "register agent (till PC)"), el("option", { value: "office" }, "office computer (this manager page)")))], "Make a pairing code",
      async (f) => {
        const c = await call("POST", "/api/v1/pairing-codes", { name: f.get("name"), kind: f.get("kind") });
        $("#pairing-code").replaceChildren(el("strong", { class: "code" }, c.code), ` for ${c.kind} “${c.name}”, until ${when(c.expires_at)}`);
      }),
      el("p", { id: "pairing-code", role: "status" }),
      ca ? el("p", {}, "A till PC's register agent pairs with this server's https address on port 8443 and pins the store's certificate authority; its pairing prints the fingerprint, which must read: ", el("code", { id: "store-ca" }, ca.fingerprint)) : null];
  }


  // Printers: which hw-proxy drives each, how it reaches it, what prints
  // there; the hw-proxy's own view of each one (ready, waiting jobs).
  async function printerTab() {
    const [r, devices] = await Promise.all([call("GET", "/api/v1/printers"), call("GET", "/api/v1/devices")]);
    const registerName = Object.fromEntries(devices.map((d) => [d.id, d.name]));
    const stateOf = (x) => {
      if (x.push_error) return el("span", { class: "status-unhealthy" }, "not taken: " + x.push_error);
      if (!x.live) return el("span", { class: "status-degraded" }, "hw-proxy has not got it yet");
      if (!x.applied) return el("span", { class: "status-degraded" }, "being applied");
      return x.live.ready ? el("span", { class: "status-ok" }, "ready") : el("span", { class: "status-unhealthy" }, x.live.problem || "not ready");
    };
    const prints = (p) => p.role === "kitchen" ? "kitchen tickets" : p.device_id ? `receipts of ${registerName[p.device_id] || p.device_id}` : "receipts (every register without its own)";
    const rows = r.printers.map((x) => {
      const p = x.printer;
      return el("tr", { id: "printer-" + p.id }, el("td", {}, p.id + (x.has_logo ? " (logo)" : "")), el("td", {}, prints(p)), el("td", {}, p.hw_proxy_url), el("td", {}, p.address), el("td", {}, stateOf(x)),
        el("td", {}, x.live ? `${x.live.queued} queued, ${x.live.uncertain} uncertain, ${x.live.held} held` : ""),
        el("td", {}, el("button", { onclick: () => edit(p) }, "Edit"), " ",
          el("button", { onclick: async () => { if (!confirm(`Remove printer ${p.id}?`)) return; try { await call("DELETE", "/api/v1/printers/" + p.id); banner("Removed", "ok"); open("Printers"); } catch (e) { banner(e.message); } } }, "Remove")));
    });
    const proxies = r.hw_proxies.map((h) => el("tr", {}, el("td", {}, h.url), el("td", { class: h.reachable ? "status-ok" : "status-unhealthy" }, h.reachable ? "reachable" : "unreachable: " + (h.error || "")),
      el("td", {}, h.own_printers.map((o) => `${o.id} (${o.address}) ${o.ready ? "ready" : o.problem || "not ready"}`).join(", "))));
    const f = (name, label, attrs = {}) => input(name, label, { id: "printer-" + name, ...attrs });
    const select = (name, label, options) => el("label", {}, label, el("select", { name, id: "printer-" + name }, ...options.map(([v, t]) => el("option", { value: v }, t))));
    const defaultUrl = (r.hw_proxies[0] && r.hw_proxies[0].url) || "";
    return [el("h2", {}, "Printers"),
      r.from_settings ? el("p", {}, "No printer is configured here yet: receipts go to the printer named in the edge's settings (printing.receipt_printer). The first printer added here replaces them.") : "",
      table(["Printer", "Prints", "hw-proxy", "Address", "State", "Waiting", ""], rows),
      el("h2", { id: "printer-form-title" }, "Add a printer"),
      form([f("id", "Name", { required: true, maxlength: 64, pattern: "[A-Za-z0-9_-]+", title: "letters, digits, - and _" }),
        select("role", "Prints", [["receipt", "receipts"], ["kitchen", "kitchen tickets"]]),
        select("device_id", "Register", [["", "every register without its own"], ...devices.filter((d) => !d.revoked_at && (d.kind === "register" || d.kind === "agent")).map((d) => [d.id, d.name])]),
        f("hw_proxy_url", "hw-proxy (gRPC)", { required: true, value: defaultUrl, placeholder: "http://10.0.0.5:7072" }),
        f("address", "Printer address", { required: true, placeholder: "tcp://10.0.0.21:9100" }),
        f("width", "Characters per line", { type: "number", min: 16, max: 96, value: 48 }),
        f("code_pages", "Code pages", { placeholder: "CP858, CP437 (empty: all)" }),
        f("fallback", "Fallback (kitchen)", { maxlength: 64 }),
        el("label", {}, "Logo (PNG)", el("input", { name: "logo", id: "printer-logo", type: "file", accept: "image/png" })),
        el("label", {}, "No logo", el("input", { name: "no_logo", id: "printer-no_logo", type: "checkbox" }))], "Save",
      async (fd) => {
        const body = { hw_proxy_url: fd.get("hw_proxy_url"), address: fd.get("address"), width: Number(fd.get("width") || 48), role: fd.get("role"),
          device_id: fd.get("role") === "receipt" && fd.get("device_id") ? fd.get("device_id") : null,
          code_pages: String(fd.get("code_pages") || "").split(",").map((x) => x.trim()).filter(Boolean), fallback: fd.get("fallback") || null };
        const file = fd.get("logo");
        if (fd.get("no_logo")) body.logo_png_base64 = "";
        else if (file && file.size) body.logo_png_base64 = await base64(file);
        const res = await call("PUT", "/api/v1/printers/" + encodeURIComponent(fd.get("id")), body);
        const failed = Object.entries(res.pushed).filter(([, v]) => !v.ok);
        banner(failed.length ? `Saved; ${failed.map(([u, v]) => `${u} did not take it: ${v.error}`).join("; ")}` : "Saved; hw-proxy took it", failed.length ? undefined : "ok");
        open("Printers");
      }),
      el("h2", {}, "hw-proxies"), table(["hw-proxy", "State", "Its own printers (settings file)"], proxies)];
  }
  function edit(p) {
    for (const k of ["id", "hw_proxy_url", "address", "width", "role", "fallback"]) $("#printer-" + k).value = p[k] === null ? "" : p[k];
    $("#printer-device_id").value = p.device_id || "";
    $("#printer-code_pages").value = p.code_pages;
    $("#printer-form-title").textContent = "Change printer " + p.id;
    $("#printer-id").scrollIntoView();
  }
  function base64(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ""));
      r.onerror = () => reject(new Error("Cannot read the logo file"));
      r.readAsDataURL(file);
    });
  }

  async function staff() {
    const list = await call("GET", "/api/v1/staff");
    return [el("h2", {}, "Staff"),
      table(["Name", "Role", "Since", ""], list.map((s) => el("tr", {}, el("td", {}, s.name), el("td", {}, s.role), el("td", {}, when(s.created_at)),
        el("td", {}, el("button", { onclick: async () => { const pin = prompt(`New PIN for ${s.name} (4–8 digits)`); if (!pin) return; try { await call("PUT", `/api/v1/staff/${s.id}/pin`, { pin }); banner("PIN changed", "ok"); } catch (e) { banner(e.message); } } }, "Set PIN"), " ",
          el("button", { onclick: async () => { try { await call("POST", `/api/v1/staff/${s.id}/unlock`); banner(`${s.name} unlocked`, "ok"); } catch (e) { banner(e.message); } } }, "Lift lockout"))))),
      el("h2", {}, "Add staff"),
      form([input("name", "Name", { required: true, maxlength: 100 }),
        el("label", {}, "Role", el("select", { name: "role" }, ...["cashier", "supervisor", "manager", "admin"].map((r) => el("option", {}, r)))),
        input("pin", "PIN", { required: true, inputmode: "numeric", maxlength: 8, type: "password" })], "Add",
      async (f) => { await call("POST", "/api/v1/staff", { name: f.get("name"), role: f.get("role"), pin: f.get("pin") }); banner("Added", "ok"); open("Staff"); })];
  }

  async function products() {
    const [list, taxes, companies] = await Promise.all([call("GET", "/api/v1/products?limit=500"), call("GET", "/api/v1/tax-categories"), call("GET", "/api/v1/companies")]);
    if (list.length) currency = list[0].currency;
    const company = Object.fromEntries(companies.map((c) => [c.id, c.name]));
    // The till's item grid: a product's tab and whether it is a favourite,
    // saved as soon as they change.
    const grid = async (p, change, input) => {
      try { await call("PATCH", "/api/v1/products/" + p.id, change); banner(`Saved: ${p.name}`, "ok"); } catch (e) { banner(e.message); input.focus(); }
    };
    return [el("h2", {}, "Products"),
      el("p", {}, "Category and favourite place a product on the register's item grid."),
      table(["SKU", "Name", "Company", "Barcodes", "Tax", "Price", "Category", "Favourite", ""], list.map((p) => el("tr", {}, el("td", {}, p.sku), el("td", {}, p.name + (p.weighed ? " (per kg)" : "")), el("td", {}, company[p.company_id] || ""),
        el("td", {}, p.barcodes.join(" ")), el("td", {}, `${p.tax_category} ${p.tax_ppm / 10000}%`), el("td", { class: "price" }, money(p.price_minor, p.currency)),
        el("td", {}, el("input", { value: p.category, maxlength: 40, size: 12, list: "categories", "aria-label": `Category of ${p.name}`, onchange: (ev) => grid(p, { category: ev.target.value.trim() }, ev.target) })),
        el("td", {}, el("input", { type: "checkbox", checked: p.favourite, "aria-label": `${p.name} is a favourite`, onchange: (ev) => grid(p, { favourite: ev.target.checked }, ev.target) })),
        el("td", {}, el("button", { onclick: async () => { const v = prompt(`New price for ${p.name}`, plain(p.price_minor)); if (v === null) return; const m = parseMoney(v, p.currency); if (m === null) return banner("Not an amount"); try { await call("PATCH", "/api/v1/products/" + p.id, { price_minor: m }); open("Products"); } catch (e) { banner(e.message); } } }, "Change price"))))),
      el("datalist", { id: "categories" }, ...[...new Set(list.map((p) => p.category).filter(Boolean))].sort().map((c) => el("option", { value: c }))),
      el("h2", {}, "New product"),
      form([input("sku", "SKU", { required: true, maxlength: 64 }), input("name", "Name", { required: true, maxlength: 200 }), input("price", "Price", { required: true, inputmode: "decimal" }),
        el("label", {}, "Tax", el("select", { name: "tax" }, ...taxes.map((t) => el("option", { value: t.code }, `${t.name} ${t.rate_ppm / 10000}%`)))),
        el("label", {}, "Company", el("select", { name: "company" }, ...companies.map((c) => el("option", { value: c.id }, c.name)))),
        input("barcode", "Barcode", { maxlength: 64 }), input("category", "Category", { maxlength: 40, list: "categories" }),
        el("label", {}, "Favourite", el("input", { name: "favourite", type: "checkbox" })),
        el("label", {}, "Weighed", el("input", { name: "weighed", type: "checkbox" })), el("label", {}, "Kitchen", el("input", { name: "kitchen", type: "checkbox" }))], "Create",
      async (f) => {
        const price = parseMoney(f.get("price"), currency);
        if (price === null) throw new Error(`Price must be an amount such as ${plain(Outpost.moneyInfo().notes[0] + Outpost.moneyInfo().coins[0])}`);
        await call("POST", "/api/v1/products", { sku: f.get("sku"), name: f.get("name"), price_minor: price, tax_category: f.get("tax"), company_id: f.get("company"), weighed: !!f.get("weighed"), kitchen: !!f.get("kitchen"), barcodes: f.get("barcode") ? [f.get("barcode")] : [], category: (f.get("category") || "").trim(), favourite: !!f.get("favourite") });
        banner("Created", "ok"); open("Products");
      })];
  }

  async function stock() {
    const list = await call("GET", "/api/v1/stock");
    const move = (p, reason, label) => el("button", { onclick: async () => { const v = prompt(`${label} for ${p.name} (units or kg)`); if (v === null) return; const m = Math.round(Number(v.replace(",", ".")) * 1000); if (!Number.isFinite(m)) return banner("Not a number"); try { await call("POST", "/api/v1/stock/movements", { product_id: p.product_id, quantity_milli: m, reason }); open("Stock"); } catch (e) { banner(e.message); } } }, label);
    return [el("h2", {}, "Stock"),
      table(["SKU", "Name", "On hand", ""], list.map((p) => el("tr", {}, el("td", {}, p.sku), el("td", {}, p.name), el("td", { class: p.negative ? "status-unhealthy" : "" }, qty(p.qty_milli, true) + (p.negative ? " (negative!)" : "")),
        el("td", {}, move(p, "receive", "Receive"), " ", move(p, "count", "Count"), " ", move(p, "waste", "Waste")))))];
  }

  async function shifts() {
    const list = await call("GET", "/api/v1/shifts");
    return [el("h2", {}, "Shifts"),
      table(["Business day", "Register", "Opened", "Closed", "Float", "Counted", ""], list.map((s) => el("tr", {}, el("td", {}, s.business_day), el("td", {}, s.device_id.slice(-6)), el("td", {}, when(s.opened_at)), el("td", {}, when(s.closed_at)),
        el("td", {}, money(s.opening_float_minor, currency)), el("td", {}, s.counted_cash_minor === null ? "" : money(s.counted_cash_minor, currency)),
        el("td", {}, el("button", { onclick: () => report(s.id) }, s.closed_at ? "Z report" : "X report"), " ",
          s.closed_at ? "" : el("button", { onclick: () => closeShift(s) }, "Close (Z)"))))),
      el("pre", { id: "report", class: "receipt" })];
  }
  // Closes a shift with the counted cash; a shift with unpaid orders needs a
  // decision for them first (the server lists them and refuses without one).
  async function closeShift(s) {
    const v = prompt("Counted cash in the drawer");
    if (v === null) return;
    const m = parseMoney(v);
    if (m === null) return banner("Not an amount");
    const x = await call("GET", `/api/v1/shifts/${s.id}/report`);
    const body = { counted_cash_minor: m };
    if (x.open_orders.length) {
      const list = x.open_orders.map((o) => `${o.number} ${money(o.total_minor)}`).join("\n");
      const choice = prompt(`These orders are open and unpaid — they are not sales:\n${list}\n\nType "void" to void them, or "carry over" to leave them open for a later shift.`);
      if (choice === null) return;
      const c = choice.trim().toLowerCase();
      if (c !== "void" && c !== "carry over") return banner("Type void or carry over");
      body.open_orders = c === "void" ? "void" : "carry_over";
    }
    try { await call("POST", `/api/v1/shifts/${s.id}/close`, body); report(s.id); } catch (e) { banner(e.message); }
  }
  async function report(id) {
    try {
      const r = await call("GET", `/api/v1/shifts/${id}/report`);
      if (!$("#report")) await open("Shifts");
      $("#report").textContent = Outpost.reportText(r);
    } catch (e) { banner(e.message); }
  }

  async function adjustments() {
    const list = await call("GET", "/api/v1/adjustments");
    return [el("h2", {}, "Adjustment queue"), el("p", {}, "Orders with a price override or a line of another company."),
      table(["Order", "Day", "Total", "Status"], list.map((o) => el("tr", {}, el("td", {}, o.number), el("td", {}, o.business_day), el("td", {}, money(o.total_minor, o.currency)), el("td", {}, o.status))))];
  }

  async function audit() {
    const list = await call("GET", "/api/v1/audit");
    return [el("h2", {}, "Audit log"),
      table(["When", "Action", "Staff", "Subject", "Detail"], list.map((a) => el("tr", {}, el("td", {}, when(a.at)), el("td", {}, a.action), el("td", {}, (a.staff_id || "system").slice(-6)), el("td", {}, a.subject.slice(-12)), el("td", {}, a.detail))))];
  }

  start();
})();
