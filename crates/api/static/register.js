// The register page: pairing, PIN sign-in, shift, scanning, cart, payment,
// receipt, recent orders and returns. The server prices everything; this page
// only shows what the server says.
"use strict";
(() => {
  const { api, uuidv7, loadMoney, money, plain, parseMoney, cashRound, quickCash, qty, el, $, show, banner, store } = Outpost;
  const state = { me: null, currency: "EUR", cart: [], quote: null, checkoutKey: null, payMode: "cash", staff: [] };
  Outpost.setPage("register");

  function screen(id) {
    for (const s of ["#pair", "#login", "#shift", "#sell"]) show(s, s === id);
    if (id === "#sell") $("#scan").focus();
  }

  async function start() {
    // Amounts are written and read by the store's currency and locale, known
    // before the first one is shown (not guessed from a product).
    try {
      state.currency = (await loadMoney()).currency;
    } catch (e) { banner(e.message + " — reload the page when the store server answers."); return; }
    if (!store.getItem("outpost.device")) return showPair();
    // Still signed in (the session cookie is alive)?
    try {
      state.me = await api("GET", "/api/v1/me");
      return afterLogin();
    } catch (_) { /* sign in */ }
    showLogin();
  }

  // ---- pairing -------------------------------------------------------------
  Outpost.pairing("register", "outpost.device", (p) => {
    banner(`Paired as register ${p.device.register_no}`, "ok");
    showLogin();
  });
  function showPair() {
    screen("#pair");
    $("#pair-code").focus();
  }

  // ---- sign-in -------------------------------------------------------------
  let chosen = null;
  async function showLogin() {
    screen("#login");
    try {
      const r = await api("GET", "/api/v1/login-staff");
      state.staff = r.staff;
      $("#login-staff").replaceChildren(...r.staff.map((s) => el("button", {
        class: "staff", "data-staff": s.id,
        onclick: (ev) => { chosen = s.id; for (const b of document.querySelectorAll(".staff")) b.classList.toggle("chosen", b === ev.currentTarget); $("#login-pin").focus(); },
      }, s.name, el("small", {}, s.role))));
    } catch (e) {
      if (e.status === 401) { store.removeItem("outpost.device"); return showPair(); }
      banner(e.message);
    }
  }
  async function login() {
    if (!chosen) return banner("Tap your name first");
    try {
      await api("POST", "/api/v1/sessions", { staff_id: chosen, pin: $("#login-pin").value });
      $("#login-pin").value = "";
      state.me = await api("GET", "/api/v1/me");
      afterLogin();
    } catch (e) { $("#login-pin").value = ""; banner(e.message); }
  }
  $("#login-go").addEventListener("click", login);
  $("#login-pin").addEventListener("keydown", (e) => { if (e.key === "Enter") login(); });
  $("#logout").addEventListener("click", async () => {
    try { await api("DELETE", "/api/v1/sessions/current"); } catch (_) { /* signed out anyway */ }
    state.cart = [];
    state.checkoutKey = null;
    saveCart();
    showLogin();
  });

  async function afterLogin() {
    $("#who").textContent = `${state.me.name} · ${state.me.role}`;
    // Who may approve (a discount, a no-sale), after a reload too.
    if (!state.staff) {
      api("GET", "/api/v1/login-staff").then((r) => { state.staff = r.staff; }).catch(() => {});
    }
    // Which companies may invoice a sale (a store of several).
    api("GET", "/api/v1/companies").then((c) => { state.companies = c; }).catch(() => {});
    try {
      const shift = await api("GET", "/api/v1/shifts/current");
      state.shift = shift;
      $("#where").textContent = `Business day ${shift.business_day}`;
      screen("#sell");
      renderCart();
      settleKeptCheckout();
      loadRecent();
      loadShelves();
      printer.none = false;
      loadPrinter();
    } catch (e) {
      if (e.status === 404) {
        // A float of ten of the smallest notes, written the store's way.
        if (!$("#shift-float").value) $("#shift-float").value = plain(10 * Outpost.moneyInfo().notes[0]);
        countRows("#opening-count tbody", "#opening-total", (sum) => { $("#shift-float").value = plain(sum); });
        return screen("#shift");
      }
      banner(e.message);
    }
  }
  $("#shift-go").addEventListener("click", async () => {
    const f = parseMoney($("#shift-float").value);
    if (f === null) return banner(`Enter the float as an amount, e.g. ${plain(10 * Outpost.moneyInfo().notes[0])}`);
    try { await api("POST", "/api/v1/shifts", { opening_float_minor: f }); afterLogin(); } catch (e) { banner(e.message); }
  });

  // ---- scanning and search -------------------------------------------------
  function addToCart(p, milli) {
    // A stable weight from hw-proxy's scale is the weight; otherwise ask.
    if (p.weighed && !milli && scale.stable && scale.grams > 0) milli = scale.grams;
    if (p.weighed && !milli) return askWeight(p);
    milli = milli || 1000;
    const same = state.cart.find((l) => l.product.id === p.id && !p.weighed);
    if (same) same.qty_milli += milli; else state.cart.push({ product: p, qty_milli: milli, discount_minor: 0 });
    cartChanged();
  }
  // A weighed item with no scale reading: the weight typed in the page's
  // own dialog (a browser prompt would block the page and the scanner).
  let weighing = null;
  function askWeight(p) {
    weighing = p;
    $("#weight-name").textContent = p.name;
    $("#weight-kg").value = "";
    $("#weight").showModal();
    $("#weight-kg").focus();
  }
  $("#weight-form").addEventListener("submit", (e) => {
    const w = Math.round(Number(String($("#weight-kg").value).replace(",", ".")) * 1000);
    // A scanner's code typed here by mistake is no weight.
    if (!(w > 0 && w <= 100000)) { e.preventDefault(); return banner("Enter a weight in kg such as 0.375 (at most 100)"); }
    const p = weighing;
    weighing = null;
    if (p) addToCart(p, w);
  });
  $("#weight-cancel").addEventListener("click", () => { weighing = null; $("#weight").close(); $("#scan").focus(); });
  $("#weight").addEventListener("close", () => $("#scan").focus());
  $("#scan").addEventListener("keydown", async (e) => {
    if (e.key !== "Enter") return;
    const raw = $("#scan").value.trim();
    $("#scan").value = "";
    await scanned(raw);
  });
  async function scanned(raw) {
    if (!raw) return;
    const m = raw.match(/^(\d+)\*(.+)$/);
    const count = m ? Number(m[1]) : 1;
    const term = m ? m[2] : raw;
    try {
      if (/^\d{6,14}$/.test(term)) {
        const p = await api("GET", "/api/v1/barcodes/" + encodeURIComponent(term));
        // A scale's label says the weight itself.
        addToCart(p, p.label_qty_milli || (p.weighed ? 0 : count * 1000));
        // Search results give way to the shelf they covered.
        if (!shelf.current) showShelf(shelf.last);
      } else {
        const seq = ++shelf.seq;
        const list = await api("GET", "/api/v1/products?q=" + encodeURIComponent(term) + "&limit=20");
        if (seq !== shelf.seq) return; // a newer search or tab took the place
        if (!list.length) banner(`Nothing found for “${term}”`);
        markShelf(null);
        showProducts(list, count);
      }
    } catch (err) { banner(err.status === 404 ? `Unknown barcode ${term}` : err.message); }
  }

  // ---- item grid: the favourites and a tab per category ---------------------
  // (set on the manager page: Products; in the cloud for a chain)
  // `seq` numbers what asked for the list last: an older answer arriving
  // late never replaces it.
  const shelf = { tabs: [], current: null, last: null, seq: 0 };
  function showProducts(list, count = 1) {
    $("#results").replaceChildren(...list.map((p) => el("li", {},
      el("button", { onclick: () => { addToCart(p, p.weighed ? 0 : count * 1000); $("#scan").focus(); } },
        p.name + (p.weighed ? " (kg)" : ""), el("span", { class: "price" }, money(p.price_minor, p.currency))))));
  }
  function markShelf(tab) {
    shelf.current = tab;
    if (tab) shelf.last = tab;
    for (const b of $("#shelves").children) b.setAttribute("aria-pressed", String(!!tab && b.dataset.shelf === tab.key));
  }
  async function showShelf(tab) {
    if (!tab) return $("#results").replaceChildren();
    markShelf(tab);
    const seq = ++shelf.seq;
    try {
      const list = await api("GET", "/api/v1/products?" + tab.query + "&limit=200");
      if (seq === shelf.seq) showProducts(list);
    } catch (e) { banner(e.message); }
  }
  async function loadShelves() {
    let cats = [];
    try { cats = await api("GET", "/api/v1/categories"); } catch (e) { return banner(e.message); }
    shelf.tabs = [{ key: "*favourites", label: "Favourites", query: "favourites=true" },
      ...cats.map((c) => ({ key: c.name, label: c.name, query: "category=" + encodeURIComponent(c.name) }))];
    $("#shelves").replaceChildren(...shelf.tabs.map((t) => el("button", { type: "button", "data-shelf": t.key, "aria-pressed": "false", onclick: () => { showShelf(t); $("#scan").focus(); } }, t.label)));
    showShelf(shelf.tabs.find((t) => t.key === (shelf.last && shelf.last.key)) || shelf.tabs[0]);
  }

  // ---- serial scanner and scale, through hw-proxy's event stream ------------
  // (keyboard-wedge scanners type into #scan and need none of this)
  const scale = { grams: null, stable: false };
  const inputsUrl = (document.querySelector('meta[name="outpost-inputs"]') || {}).content || "";
  if (/^https?:\/\//.test(inputsUrl)) {
    const events = new EventSource(inputsUrl.replace(/\/$/, "") + "/api/v1/inputs/events");
    events.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.type === "scan") {
        // Not into a payment, a count or another dialog under way.
        if (document.querySelector("dialog[open]:not(#receipt)")) return banner("Finish what is open first, then scan");
        if ($("#receipt").open) $("#receipt").close();
        if (!$("#sell").hidden) scanned(e.code);
      } else if (e.type === "weight") {
        scale.grams = e.grams; scale.stable = e.stable;
        $("#scale").hidden = false;
        $("#scale").textContent = e.grams === null ? "Scale: no weight"
          : `Scale: ${(e.grams / 1000).toFixed(3)} kg${e.stable ? "" : " (settling)"}`;
      } else if (e.type === "device" && !e.connected && e.kind !== "scanner") {
        scale.grams = null; scale.stable = false;
        $("#scale").textContent = "Scale: not connected";
      } else if (e.type === "device" && !e.connected) {
        banner(`Scanner ${e.device} is not connected`);
      }
    };
  }

  // ---- cart ----------------------------------------------------------------
  function saleBody(payments) {
    const od = parseMoney($("#order-discount").value || "0", state.currency);
    const body = {
      currency: state.currency,
      lines: state.cart.map((l) => ({ product_id: l.product.id, quantity_milli: l.qty_milli, discount_minor: l.discount_minor })),
      order_discount_minor: od === null ? 0 : od,
      payments,
    };
    if (state.payMode === "account" && payments.length) body.customer_id = $("#account-customer").value;
    // Invoiced by a company the cashier chose: with the reason when it is
    // not the company of every item (flagged for the manager).
    const company = $("#pay-company").hidden ? "" : $("#pay-company-id").value;
    if (payments.length && company && company !== defaultCompany()) {
      body.company_id = company;
      if (crossCompany(company)) body.company_reason = $("#company-reason").value.trim();
    }
    if (state.quote && state.quote.discount_minor > 0) {
      body.discount_reason = $("#discount-reason").value.trim();
      // Asked for once the server said this discount needs approval.
      if (!$("#discount-approval").hidden) body.approval = { staff_id: $("#discount-approver").value, pin: $("#discount-pin").value };
    }
    return body;
  }
  function cartChanged() {
    state.checkoutKey = null; // a different cart is a different sale
    // The payment shown is for the cart as it was: pay again.
    if ($("#pay").open) { $("#pay").close(); banner("The cart changed: press Cash or Card again"); }
    saveCart();
    renderCart();
  }
  // The cart (and the key of a checkout under way) outlives a reload and
  // an outage: kept in this browser until the sale is made or cleared.
  function saveCart() {
    store.setItem("outpost.cart", JSON.stringify({ cart: state.cart, discount: $("#order-discount").value, key: state.checkoutKey }));
  }
  // A cart kept with the key of a checkout under way (the page was
  // reloaded while paying): if that sale went through, it is shown paid and
  // the cart is done; otherwise Confirm sends it again under the same key.
  async function settleKeptCheckout() {
    if (!state.checkoutKey) return;
    try {
      const r = await api("GET", "/api/v1/orders/by-key/" + state.checkoutKey, undefined, { timeoutMs: 10000 });
      if (r.state === "committed") paid(r.order);
    } catch (_) { /* asked again at Confirm */ }
  }
  function restoreCart() {
    try {
      const kept = JSON.parse(store.getItem("outpost.cart") || "null");
      if (!kept || !Array.isArray(kept.cart)) return;
      state.cart = kept.cart;
      state.checkoutKey = kept.key || null;
      $("#order-discount").value = kept.discount || "0";
    } catch (_) { store.removeItem("outpost.cart"); }
  }
  let quoteSeq = 0;
  async function renderCart() {
    const body = $("#cart tbody");
    body.replaceChildren(...state.cart.map((l, i) => el("tr", {},
      el("td", {}, l.product.name),
      el("td", {}, el("button", { class: "qty", "aria-label": `one less ${l.product.name}`, onclick: () => { if (l.product.weighed || l.qty_milli <= 1000) state.cart.splice(i, 1); else l.qty_milli -= 1000; cartChanged(); } }, "−"),
        " " + qty(l.qty_milli, l.product.weighed) + " ",
        el("button", { class: "qty", "aria-label": `one more ${l.product.name}`, onclick: () => { if (!l.product.weighed) { l.qty_milli += 1000; cartChanged(); } } }, "+")),
      el("td", {}, money(l.product.price_minor, l.product.currency)),
      el("td", {}, el("input", { class: "disc", inputmode: "decimal", "aria-label": `discount on ${l.product.name}`, value: plain(l.discount_minor), onchange: (e) => { const d = parseMoney(e.target.value, state.currency); if (d === null) return banner("Discount must be an amount"); l.discount_minor = d; cartChanged(); } })),
      el("td", { class: "line-total" }, ""),
      el("td", {}, el("button", { "aria-label": `remove ${l.product.name}`, onclick: () => { state.cart.splice(i, 1); cartChanged(); } }, "✕")))));
    // The line just scanned stays in sight; the cart scrolls above the total.
    if (body.lastElementChild) body.lastElementChild.scrollIntoView({ block: "nearest" });
    const seq = ++quoteSeq;
    if (!state.cart.length) { state.quote = null; $("#totals").replaceChildren(el("dt", {}, "Total"), el("dd", {}, money(0, state.currency))); return; }
    try {
      const q = await api("POST", "/api/v1/orders/quote", saleBody([]));
      if (seq !== quoteSeq) return;
      state.quote = q;
      q.lines.forEach((l, i) => { const cell = body.children[i] && body.children[i].querySelector(".line-total"); if (cell) cell.textContent = money(l.total_minor, q.currency); });
      $("#totals").replaceChildren(
        el("dt", {}, "Subtotal"), el("dd", {}, money(q.subtotal_minor, q.currency)),
        el("dt", {}, "Discounts"), el("dd", {}, money(-q.discount_minor, q.currency)),
        el("dt", {}, "of which tax"), el("dd", {}, money(q.tax_minor, q.currency)),
        el("dt", { class: "grand" }, "Total"), el("dd", { class: "grand", id: "total" }, money(q.total_minor, q.currency)));
    } catch (e) { if (seq === quoteSeq) { state.quote = null; banner(e.message); } }
  }
  $("#order-discount").addEventListener("change", cartChanged);
  // Clear asks first: a stray tap must not empty a full cart.
  $("#clear-cart").addEventListener("click", () => { if (state.cart.length) $("#clear").showModal(); });
  $("#clear-yes").addEventListener("click", () => { $("#clear").close(); state.cart = []; $("#order-discount").value = "0"; cartChanged(); $("#scan").focus(); });
  $("#clear-no").addEventListener("click", () => { $("#clear").close(); $("#scan").focus(); });

  // ---- payment -------------------------------------------------------------
  function openPay(mode) {
    if (!state.cart.length) return banner("The cart is empty");
    if (!state.quote) return banner("Waiting for the price — try again");
    state.payMode = mode;
    state.checkoutKey = state.checkoutKey || uuidv7();
    saveCart();
    const due = state.quote.total_minor;
    $("#pay-title").textContent = { cash: "Cash", card: "Card", split: "Split payment", account: "On account" }[mode];
    $("#pay-due").textContent = money(due, state.currency);
    show("#pay-card-fields", mode === "card" || mode === "split");
    show("#pay-cash-fields", mode === "cash" || mode === "split");
    show("#pay-account-fields", mode === "account");
    if (mode === "account") { $("#account-q").value = ""; $("#account-customer").replaceChildren(); findCustomers(); }
    // A store of several companies: which one invoices the sale.
    const companies = state.companies || [];
    show("#pay-company", companies.length > 1);
    $("#pay-company-id").replaceChildren(...companies.map((c) => el("option", { value: c.id }, c.name)));
    $("#pay-company-id").value = defaultCompany();
    $("#company-reason").value = "";
    show("#company-reason-row", false);
    $("#pay-card-amount").value = mode === "split" ? "" : plain(due);
    $("#pay-card-amount").disabled = mode === "card";
    $("#pay-tendered").value = "";
    show("#pay-discount", state.quote.discount_minor > 0);
    $("#discount-reason").value = "";
    show("#discount-approval", false);
    $("#discount-pin").value = "";
    renderQuickCash();
    updateChange();
    $("#pay").showModal();
    ({ card: $("#pay-card-ref"), split: $("#pay-card-amount"), account: $("#account-q") }[mode] || $("#pay-tendered")).focus();
  }
  // The company a sale is invoiced by unless the cashier chooses: its first
  // item's, as the server takes it.
  const defaultCompany = () => (state.cart[0] ? state.cart[0].product.company_id : "");
  const crossCompany = (company) => state.cart.some((l) => l.product.company_id !== company);
  const companyName = (id) => ((state.companies || []).find((c) => c.id === id) || { name: id }).name;
  $("#pay-company-id").addEventListener("change", () => {
    const c = $("#pay-company-id").value;
    show("#company-reason-row", c !== defaultCompany() && crossCompany(c));
  });
  // On account: the customer found by name.
  async function findCustomers() {
    try {
      const list = await api("GET", "/api/v1/customers?limit=20&q=" + encodeURIComponent($("#account-q").value.trim()));
      $("#account-customer").replaceChildren(...list.map((c) => el("option", { value: c.id }, c.name + (c.phone ? ` · ${c.phone}` : ""))));
      if (!list.length) $("#pay-status").textContent = "No customer by that name: a manager adds customers on the manager page.";
      else $("#pay-status").textContent = "";
    } catch (e) { banner(e.message); }
  }
  let customerTimer;
  $("#account-q").addEventListener("input", () => { clearTimeout(customerTimer); customerTimer = setTimeout(findCustomers, 250); });
  // What cash must pay: the rest of the total after the card, rounded to
  // the currency's cash unit (CHF 0.05), as the server settles it.
  function cashDue() {
    const due = state.quote.total_minor;
    if (state.payMode === "card" || state.payMode === "account") return 0;
    const card = state.payMode === "split" ? parseMoney($("#pay-card-amount").value || "0") || 0 : 0;
    return cashRound(due - card);
  }
  function renderQuickCash() {
    $("#quick-cash").replaceChildren(...quickCash(cashDue()).map((v) => el("button", { type: "button", onclick: () => { $("#pay-tendered").value = plain(v); updateChange(); } }, money(v))));
  }
  function updateChange() {
    const t = parseMoney($("#pay-tendered").value || "0", state.currency);
    const change = t === null ? null : t - cashDue();
    $("#pay-change").textContent = change === null || change < 0 ? "–" : money(change, state.currency);
  }
  $("#pay-tendered").addEventListener("input", updateChange);
  $("#pay-card-amount").addEventListener("input", () => { updateChange(); renderQuickCash(); });
  $("#pay-cash").addEventListener("click", () => openPay("cash"));
  $("#pay-card").addEventListener("click", () => openPay("card"));
  $("#pay-split").addEventListener("click", () => openPay("split"));
  $("#pay-account").addEventListener("click", () => openPay("account"));
  // A till's agent holds no customer accounts (register.md).
  if (Outpost.agent) $("#pay-account").hidden = true;
  // Exact cash: the customer hands over the total; no change to count.
  function payExact() {
    if (openPay("cash") === false || !$("#pay").open) return;
    if ($("#pay-discount").hidden) confirmPay();
  }
  $("#pay-exact").addEventListener("click", payExact);
  // Keys for the busiest moves, shown on the buttons.
  document.addEventListener("keydown", (e) => {
    if ($("#sell").hidden || document.querySelector("dialog[open]")) return;
    // Not while a discount or other field is being typed in: its change
    // would come after.
    if (e.target.matches && e.target.matches("input:not(#scan), select, textarea")) return;
    const last = state.cart[state.cart.length - 1];
    const act = {
      F2: () => $("#pay-cash").disabled || openPay("cash"),
      F3: () => $("#pay-card").disabled || openPay("card"),
      F4: () => $("#pay-exact").disabled || payExact(),
      F6: () => {
        // The number typed in the scan field is the last line's quantity.
        const n = Number($("#scan").value.trim());
        if (!last || last.product.weighed) return banner("The last line has no count to set");
        if (!(Number.isInteger(n) && n > 0 && n <= 9999)) return banner("Type the quantity first, then F6");
        $("#scan").value = "";
        last.qty_milli = n * 1000;
        cartChanged();
      },
      F8: () => { if (last) { state.cart.pop(); cartChanged(); } },
    }[e.key];
    if (!act) return;
    e.preventDefault();
    act();
  });
  $("#pay-cancel").addEventListener("click", () => { state.stopChecking = true; $("#pay-status").textContent = ""; $("#pay").close(); });
  $("#pay-tendered").addEventListener("keydown", (e) => { if (e.key === "Enter") confirmPay(); });

  async function confirmPay() {
    const payments = [];
    const due = state.quote.total_minor;
    const company = $("#pay-company").hidden ? "" : $("#pay-company-id").value;
    if (company && company !== defaultCompany() && crossCompany(company) && !$("#company-reason").value.trim()) {
      $("#company-reason").focus();
      return banner("Say why this company invoices items of another");
    }
    if (state.payMode === "account") {
      if (!$("#account-customer").value) return banner("Choose the customer whose account this goes on");
      payments.push({ method: "on_account", amount_minor: due });
    } else if (state.payMode !== "cash") {
      const card = state.payMode === "card" ? due : parseMoney($("#pay-card-amount").value, state.currency);
      if (card === null || card <= 0 || card > due) return banner("Enter a card amount up to the total");
      payments.push({ method: "card", amount_minor: card, card_type: $("#pay-card-type").value, reference: $("#pay-card-ref").value });
    }
    if (state.payMode === "cash" || state.payMode === "split") {
      const cashAmount = cashDue();
      const tendered = $("#pay-tendered").value.trim() === "" ? cashAmount : parseMoney($("#pay-tendered").value, state.currency);
      if (tendered === null || tendered < cashAmount) return banner("Cash tendered is less than the amount due");
      if (cashAmount > 0) payments.push({ method: "cash", amount_minor: cashAmount, tendered_minor: tendered });
    }
    $("#pay-confirm").disabled = true;
    const key = state.checkoutKey;
    try {
      // The same key on every retry of this checkout: the server never makes a second sale.
      let order = null;
      try {
        order = await api("POST", "/api/v1/orders", saleBody(payments), { idempotencyKey: key, timeoutMs: 20000 });
      } catch (e) {
        // Refused (4xx): nothing was made. Anything else — no answer, or
        // the server failing — says nothing either way: ask before saying.
        if (e.status === 403 && /discount/.test(e.message) && $("#discount-approval").hidden) {
          // A discount beyond this cashier's limit: a supervisor approves it.
          const approvers = state.staff.filter((s) => s.role !== "cashier");
          $("#discount-approver").replaceChildren(...approvers.map((s) => el("option", { value: s.id }, `${s.name} (${s.role})`)));
          show("#discount-approval", true);
          $("#discount-pin").focus();
        }
        if (e.status && e.status < 500) throw e;
      }
      // No answer, or one that is not the order (cut short on the way):
      // ask what became of the sale before saying anything.
      if (!order || !order.id) order = await truthAbout(key);
      if (!order) {
        $("#pay-status").textContent = "";
        return banner("The sale did not go through: nothing was charged. Press Confirm to try again.");
      }
      paid(order);
    } catch (e) {
      banner(e.message);
      // The shift was closed elsewhere (the manager page): open one here.
      if (e.status === 409 && /no open shift/.test(e.message)) { $("#pay").close(); state.shift = null; afterLogin(); }
    } finally { $("#pay-confirm").disabled = false; }
  }
  // A sale went through: show it, start the next.
  function paid(order) {
    $("#pay-status").textContent = "";
    $("#pay").close();
    state.cart = [];
    state.checkoutKey = null;
    $("#order-discount").value = "0";
    saveCart();
    renderCart();
    $("#receipt-change").textContent = money(order.change_minor);
    $("#receipt-text").textContent = receiptText(order);
    picture("#receipt-picture", order.id);
    $("#receipt").showModal();
    loadRecent();
    setTimeout(loadPrinter, 1000);
  }
  // After a lost or failed answer: asks the server what became of the sale
  // sent under `key` until it can tell. The order when it was made, null when
  // nothing was (it is then safe to send again, under the same key).
  async function truthAbout(key) {
    const status = $("#pay-status");
    status.textContent = "Can't tell yet whether this sale went through — do not ring it up again. Checking…";
    state.stopChecking = false;
    for (;;) {
      try {
        const r = await api("GET", "/api/v1/orders/by-key/" + key, undefined, { timeoutMs: 10000 });
        if (r.state === "committed") return r.order;
        if (r.state === "unknown") return null;
      } catch (e) {
        if (e.status && e.status < 500 && e.status !== 408) throw e;
      }
      if (state.stopChecking) {
        // The cashier stopped waiting (the store server is away): the cart
        // and its key stay, so Confirm later cannot sell it twice.
        throw new Error("Can't tell whether this sale went through. Look in Recent orders once the store server answers, before ringing it up again; Confirm sends this same sale again safely.");
      }
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  }
  $("#pay-confirm").addEventListener("click", confirmPay);
  $("#receipt-done").addEventListener("click", () => { $("#receipt").close(); $("#scan").focus(); });
  // A keyboard-wedge scanner typing while the receipt is shown: its code
  // starts the next sale instead of pressing "New sale" and being lost.
  let wedge = "";
  $("#receipt").addEventListener("keydown", (e) => {
    if (e.key.length === 1 && !e.ctrlKey && !e.altKey && !e.metaKey) { wedge += e.key; e.preventDefault(); return; }
    if (e.key === "Enter" && wedge) {
      e.preventDefault();
      const code = wedge;
      wedge = "";
      $("#receipt").close();
      $("#scan").focus();
      scanned(code);
    }
  });
  $("#receipt").addEventListener("close", () => { wedge = ""; });

  function receiptText(o) {
    const c = o.currency;
    const w = 40;
    const row = (l, r) => l.slice(0, w - r.length - 1).padEnd(w - r.length) + r;
    const lines = [`Order ${o.number}`, `Business day ${o.business_day}`, "-".repeat(w)];
    for (const l of o.lines) {
      lines.push(row(l.name, money(l.total_minor, c)));
      if (l.qty_milli !== 1000) lines.push(`  ${qty(l.qty_milli, l.qty_milli % 1000 !== 0)} × ${money(l.unit_price_minor, c)}`);
      if (l.line_discount_minor + l.order_discount_minor) lines.push(row("  discount", money(-(l.line_discount_minor + l.order_discount_minor), c)));
    }
    lines.push("-".repeat(w), row("TOTAL", money(o.total_minor, c)), row("of which tax", money(o.tax_minor, c)));
    for (const p of o.payments) lines.push(row(`${p.kind === "refund" ? "Refund" : "Paid"} ${p.method}`, money(p.kind === "refund" ? -p.amount_minor : p.tendered_minor, c)));
    if (o.change_minor) lines.push(row("Change", money(o.change_minor, c)));
    if (o.refunded_minor) lines.push(row("Refunded", money(o.refunded_minor, c)));
    return lines.join("\n");
  }

  // The receipt as this register's printer prints it (width, code page,
  // logo), drawn by the server: an <img> cannot send the session header.
  async function picture(sel, orderId) {
    const img = $(sel);
    show(sel, false);
    if (img.src) URL.revokeObjectURL(img.src);
    try {
      const res = await fetch(`/api/v1/orders/${encodeURIComponent(orderId)}/receipt.png`, { headers: { "X-Device-Token": store.getItem("outpost.device") || "", ...Outpost.pageHeaders() } });
      if (!res.ok) return;
      // Shown once drawn (the blob: URL is allowed by the page's CSP).
      img.onload = () => show(sel);
      img.src = URL.createObjectURL(await res.blob());
    } catch (_) { /* the text preview is there */ }
  }

  // ---- this register's printer: its state, its queue, reprint and cancel ----
  const JOB_WORDS = { queued: "waiting for the printer", sending: "printing", printed: "printed", uncertain: "may not have printed", held: "too old to print by itself", expired: "not fired (too late)", cancelled: "cancelled" };
  // A register without a printer asks again once a minute (one may be added on
  // the manager page), not every five seconds.
  const printer = { none: false, askedAt: 0 };
  async function loadPrinter() {
    if ($("#sell").hidden) return;
    if (printer.none && Date.now() - printer.askedAt < 60000) return;
    printer.askedAt = Date.now();
    let r;
    try { r = await api("GET", "/api/v1/printing/jobs?limit=8"); } catch (e) {
      // No receipt printer for this register: nothing to show.
      printer.none = e.status === 404;
      if (printer.none) return show("#printer", false);
      show("#printer");
      $("#printer-state").textContent = "· " + e.message;
      $("#printer-state").className = "status-unhealthy";
      return;
    }
    printer.none = false;
    show("#printer");
    const s = r.state;
    const ok = s && s.ready;
    $("#printer-state").textContent = `${r.printer} · ` + (ok ? "ready" : s ? (s.problem || "not ready") : "unknown to hw-proxy");
    $("#printer-state").className = ok ? "status-ok" : "status-unhealthy";
    const act = (label, path, body) => el("button", { onclick: async () => { try { await api("POST", path, body); loadPrinter(); } catch (e) { banner(e.message); } } }, label);
    $("#print-jobs").replaceChildren(...r.jobs.map((j) => el("li", { class: "job-" + j.state, "data-job": j.id },
      el("span", {}, `${j.kind} ${new Date(j.created_at_ms).toLocaleTimeString()}`), el("small", {}, JOB_WORDS[j.state] || j.state),
      ["printed", "uncertain", "held", "cancelled", "expired"].includes(j.state) && j.kind !== "drawer" ? act("Reprint", `/api/v1/printing/jobs/${j.id}/reprint`, { id: uuidv7() }) : "",
      ["queued", "uncertain", "held"].includes(j.state) ? act("Cancel", `/api/v1/printing/jobs/${j.id}/cancel`) : "")));
  }
  setInterval(loadPrinter, 5000);

  // ---- recent orders and returns --------------------------------------------
  async function loadRecent() {
    try {
      const list = await api("GET", "/api/v1/orders?limit=10");
      $("#recent").replaceChildren(...list.map((o) => el("li", {},
        el("button", { onclick: () => openOrder(o.id) }, el("span", {}, o.number), el("span", { class: "price" }, money(o.total_minor, o.currency)), el("small", {}, statusOf(o))))));
    } catch (e) { banner(e.message); }
  }
  // "paid" with something returned reads as such.
  function statusOf(o) {
    return o.status === "paid" && o.refunded_minor > 0 ? "partly refunded" : o.status;
  }
  let current = null;
  async function openOrder(id) {
    try {
      current = await api("GET", "/api/v1/orders/" + encodeURIComponent(id));
      $("#order-title").textContent = `Order ${current.number} · ${statusOf(current)}`;
      $("#order-text").textContent = receiptText(current);
      picture("#order-picture", current.id);
      show("#return-form", current.status === "paid");
      // An unpaid order (a tab) is voided, not refunded: with a reason, and
      // a supervisor's PIN for a cashier.
      show("#void-form", current.status === "open");
      $("#void-reason").value = "";
      $("#void-pin").value = "";
      show("#void-approval", supervisorOnly());
      $("#return-lines tbody").replaceChildren(...current.lines.map((l) => el("tr", {},
        el("td", {}, l.name), el("td", {}, `${qty(l.qty_milli - l.refunded_milli, true)} left`),
        el("td", {}, el("input", { class: "ret-qty", "data-line": l.id, inputmode: "decimal", value: "0" })))));
      const approvers = state.staff.filter((s) => s.role !== "cashier");
      $("#return-approver").replaceChildren(...approvers.map((s) => el("option", { value: s.id }, `${s.name} (${s.role})`)));
      $("#void-approver").replaceChildren(...approvers.map((s) => el("option", { value: s.id }, `${s.name} (${s.role})`)));
      $("#order").showModal();
    } catch (e) { banner(e.message); }
  }
  $("#order-close").addEventListener("click", () => $("#order").close());
  $("#void-go").addEventListener("click", async () => {
    const body = { reason: $("#void-reason").value.trim() };
    if (!body.reason) return banner("Give a reason for the void");
    if (supervisorOnly()) body.approval = { staff_id: $("#void-approver").value, pin: $("#void-pin").value };
    try {
      const o = await api("POST", `/api/v1/orders/${current.id}/void`, body);
      $("#order").close();
      banner(`Order ${o.number} voided`, "ok");
      loadRecent();
    } catch (e) { $("#void-pin").value = ""; banner(e.message); }
  });
  $("#return-go").addEventListener("click", async () => {
    const lines = [];
    for (const i of document.querySelectorAll(".ret-qty")) {
      const m = Math.round(Number(i.value.replace(",", ".")) * 1000);
      if (m > 0) lines.push({ line_id: i.dataset.line, quantity_milli: m });
    }
    if (!lines.length) return banner("Enter the quantity to return on at least one line");
    const body = { lines, method: $("#return-method").value, reason: $("#return-reason").value };
    if (!["supervisor", "manager", "admin"].includes(state.me.role)) body.approval = { staff_id: $("#return-approver").value, pin: $("#return-pin").value };
    try {
      const o = await api("POST", `/api/v1/orders/${current.id}/refunds`, body, { idempotencyKey: uuidv7() });
      $("#return-pin").value = "";
      $("#order").close();
      banner(`Refunded ${money(o.refunded_minor, o.currency)} on ${o.number}`, "ok");
      loadRecent();
    } catch (e) { $("#return-pin").value = ""; banner(e.message); }
  });

  $("#xreport").addEventListener("click", async () => {
    try {
      const r = await api("GET", `/api/v1/shifts/${state.shift.id}/report`);
      $("#report-title").textContent = `${r.kind} report · ${r.shift.business_day}`;
      $("#report-text").textContent = Outpost.reportText(r);
      $("#report").showModal();
    } catch (e) { banner(e.message); }
  });
  $("#report-close").addEventListener("click", () => { $("#report").close(); if (!state.shift) afterLogin(); });

  // ---- the drawer without a sale, and closing the shift ---------------------
  const supervisorOnly = () => !["supervisor", "manager", "admin"].includes(state.me.role);
  const managerHere = () => ["manager", "admin"].includes(state.me.role);
  $("#drawer-open").addEventListener("click", () => {
    $("#drawer-kind").value = "no-sale";
    $("#drawer-amount").value = "";
    $("#drawer-reason").value = "";
    $("#drawer-pin").value = "";
    show("#drawer-amount-row", false);
    const approvers = state.staff.filter((s) => s.role !== "cashier");
    $("#drawer-approver").replaceChildren(...approvers.map((s) => el("option", { value: s.id }, `${s.name} (${s.role})`)));
    show("#drawer-approval", supervisorOnly());
    $("#drawer").showModal();
  });
  $("#drawer-kind").addEventListener("change", () => show("#drawer-amount-row", $("#drawer-kind").value !== "no-sale"));
  $("#drawer-cancel").addEventListener("click", () => $("#drawer").close());
  $("#drawer-go").addEventListener("click", async () => {
    const kind = $("#drawer-kind").value;
    const body = { reason: $("#drawer-reason").value.trim() };
    if (!body.reason) return banner("Give a reason");
    if (supervisorOnly()) body.approval = { staff_id: $("#drawer-approver").value, pin: $("#drawer-pin").value };
    let path = "/api/v1/shifts/current/no-sale";
    if (kind !== "no-sale") {
      const a = parseMoney($("#drawer-amount").value, state.currency);
      if (a === null || a <= 0) return banner("Enter the amount");
      body.amount_minor = kind === "in" ? a : -a;
      path = "/api/v1/shifts/current/cash";
    }
    try {
      await api("POST", path, body);
      $("#drawer").close();
      banner(kind === "no-sale" ? "The drawer opens (no sale, recorded)" : `Cash paid ${kind}: recorded`, "ok");
    } catch (e) { $("#drawer-pin").value = ""; banner(e.message); }
  });
  // The drawer counted by note and coin of the store's currency: a row
  // each in `tbody`, the sum shown in `total` as typed (and told `onSum`);
  // answers the function that sums it.
  function countRows(tbody, total, onSum) {
    const m = Outpost.moneyInfo();
    const kinds = [...m.notes].sort((a, b) => b - a).concat([...m.coins].sort((a, b) => b - a));
    const sum = () => [...document.querySelectorAll(`${tbody} input`)].reduce((t, i) => t + (Math.max(0, Math.floor(Number(i.value) || 0)) * Number(i.dataset.value)), 0);
    $(tbody).replaceChildren(...kinds.map((d) => el("tr", {},
      el("td", {}, money(d, state.currency)),
      el("td", {}, el("input", { class: "count", "data-value": String(d), inputmode: "numeric", value: "0", "aria-label": `how many of ${money(d, state.currency)}`,
        oninput: () => { $(total).textContent = money(sum(), state.currency); if (onSum) onSum(sum()); } })),
      el("td", {}, ""))));
    $(total).textContent = money(0, state.currency);
    return sum;
  }
  let countedMinor = () => 0;
  $("#close-shift").addEventListener("click", () => {
    countedMinor = countRows("#closing-count tbody", "#closing-total");
    // A cashier (or supervisor) closes with a manager's PIN.
    const managers = (state.staff || []).filter((s) => s.role === "manager" || s.role === "admin");
    $("#closing-approver").replaceChildren(...managers.map((s) => el("option", { value: s.id }, `${s.name} (${s.role})`)));
    $("#closing-pin").value = "";
    show("#closing-approval", !managerHere());
    $("#closing").showModal();
  });
  $("#closing-cancel").addEventListener("click", () => $("#closing").close());
  $("#closing-go").addEventListener("click", async () => {
    try {
      const body = { counted_cash_minor: countedMinor() };
      if (!managerHere()) body.approval = { staff_id: $("#closing-approver").value, pin: $("#closing-pin").value };
      const r = await api("POST", `/api/v1/shifts/${state.shift.id}/close`, body);
      $("#closing").close();
      state.shift = null;
      $("#report-title").textContent = `${r.kind} report · ${r.shift.business_day}`;
      $("#report-text").textContent = Outpost.reportText(r);
      $("#report").showModal();
    } catch (e) { $("#closing-pin").value = ""; banner(e.message); }
  });

  // Keep the scan field focused so a keyboard-wedge scanner always lands there.
  document.addEventListener("click", () => { if (!$("#sell").hidden && !document.querySelector("dialog[open]") && document.activeElement.tagName !== "INPUT") $("#scan").focus(); });
  // ---- the link to the store server -----------------------------------------
  // Served by the store server, this screen cannot sell with it away: the
  // badge turns OFFLINE within 3 s (a check every second, given up after
  // 1.5 s), the tender buttons are disabled and the cart stays. Served by
  // the till's register agent, the till sells on: the badge shows the
  // agent's link to the store server, what waits to be sent and since
  // when, and Reconnect sends and fetches at once.
  const LINK_EVERY_MS = 1000;
  const LINK_TIMEOUT_MS = 1500;
  let linkOk = true;
  async function checkLink() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), LINK_TIMEOUT_MS);
    let ok = false;
    let link = null;
    try {
      if (Outpost.agent) {
        const r = await fetch("/agent/link", { cache: "no-store", signal: abort.signal, headers: Outpost.pageHeaders() });
        link = r.ok ? await r.json() : null;
        if (r.status === 403) Outpost.reloadIfStale(r.status, await r.json().catch(() => null));
        ok = !!(link && link.online);
      } else {
        ok = (await fetch("/health/live", { cache: "no-store", signal: abort.signal })).ok;
      }
    } catch (_) { ok = false; }
    clearTimeout(timer);
    if (ok !== linkOk) setLink(ok);
    if (Outpost.agent) showQueue(link);
    setTimeout(checkLink, LINK_EVERY_MS);
  }
  function setLink(ok) {
    linkOk = ok;
    $("#link").textContent = ok ? "OK" : "OFFLINE";
    $("#link").classList.toggle("offline", !ok);
    show(Outpost.agent ? "#agent-note" : "#offline-note", !ok);
    if (!Outpost.agent) for (const id of ["#pay-cash", "#pay-card", "#pay-exact", "#pay-split", "#pay-account"]) $(id).disabled = !ok;
    if (ok && state.me) renderCart();
  }
  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
  }
  function showQueue(link) {
    show("#reconnect", true);
    if (!link) { $("#queue").textContent = "agent not answering"; show("#queue", true); return; }
    const parts = [];
    if (link.queued > 0) parts.push(`${link.queued} to send${link.oldest_at ? ", oldest " + ago(link.oldest_at) : ""}`);
    parts.push(link.last_ok_at ? `last sync ${ago(link.last_ok_at)} ago` : "never synced");
    $("#queue").textContent = parts.join(" · ");
    $("#queue").dataset.queued = String(link.queued);
    show("#queue", true);
  }
  $("#reconnect").addEventListener("click", async () => {
    $("#reconnect").disabled = true;
    try { await api("POST", "/agent/reconnect"); } catch (e) { banner(e.message); } finally { $("#reconnect").disabled = false; }
  });

  restoreCart();
  checkLink();
  start();
})();
