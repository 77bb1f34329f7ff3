// Outpost cloud admin: sends a product form as a JSON change to the store's
// feed and says in the form what happened. Only the fields that changed are
// sent, so an edit made at the store meanwhile is not overwritten by accident.
"use strict";

// "12.5" in a currency with `exp` decimals -> 1250; null when not a price.
function minor(text, exp) {
  const t = text.trim().replace(",", ".");
  if (!/^\d+(\.\d+)?$/.test(t)) return null;
  const [whole, frac = ""] = t.split(".");
  if (frac.length > exp) return null;
  return Number(whole) * 10 ** exp + Number(frac.padEnd(exp, "0") || "0");
}

document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  if (!form.matches("form[data-product]")) return;
  ev.preventDefault();
  const out = form.querySelector("output");
  const say = (text, bad) => {
    out.textContent = text;
    out.className = bad ? "bad" : "";
  };
  const exp = Number(document.getElementById("store").dataset.exponent);
  const f = form.elements;
  const fresh = form.hasAttribute("data-new");
  const change = { sku: f.sku.value.trim() };
  if (fresh || f.title.value !== f.title.dataset.was) change.name = f.title.value.trim();
  if (fresh || f.price.value !== f.price.dataset.was) {
    const p = minor(f.price.value, exp);
    if (p === null) return say(`the price must be a number with at most ${exp} decimals`, true);
    change.price_minor = p;
  }
  if (fresh) change.tax_category = f.tax_category.value.trim();
  else if (String(f.active.checked) !== f.active.dataset.was) change.active = f.active.checked;
  if (fresh ? f.category.value.trim() : f.category.value !== f.category.dataset.was) {
    change.category = f.category.value.trim();
  }
  if (fresh ? f.favourite.checked : String(f.favourite.checked) !== f.favourite.dataset.was) {
    change.favourite = f.favourite.checked;
  }
  if (Object.keys(change).length === 1) return say("nothing changed", false);
  say("saving…", false);
  let r, body;
  try {
    r = await fetch(new URL(form.getAttribute("action"), location.origin), {
      method: "POST",
      // The session's CSRF token: the cloud takes no change without it.
      headers: { "content-type": "application/json", "x-csrf-token": document.querySelector('meta[name="csrf"]').content },
      body: JSON.stringify(change),
    });
    body = await r.json().catch(() => ({}));
  } catch (e) {
    return say("the cloud did not answer; try again", true);
  }
  if (!r.ok) return say(body.detail || `refused (${r.status})`, true);
  say(`saved as change ${body.cursor}; the store applies it on its next pull`, false);
  if (!fresh) {
    f.title.dataset.was = f.title.value;
    f.price.dataset.was = f.price.value;
    f.active.dataset.was = String(f.active.checked);
    f.category.dataset.was = f.category.value;
    f.favourite.dataset.was = String(f.favourite.checked);
  }
});
