// hw-proxy's page: reprint and cancel buttons, and a refresh while nobody
// reads a preview. No framework, no CDN.
"use strict";

// A v4 UUID from getRandomValues: randomUUID needs a secure context, and the
// page is served over plain HTTP on the LAN.
function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

async function act(button) {
  const id = button.dataset.job;
  const what = button.dataset.act;
  const out = document.getElementById("message");
  button.disabled = true;
  const body = what === "reprint" ? JSON.stringify({ id: uuid() }) : "{}";
  try {
    const r = await fetch(`/api/v1/jobs/${encodeURIComponent(id)}/${what}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const v = await r.json().catch(() => ({}));
    out.textContent = r.ok
      ? (what === "reprint" ? "Printing again." : "Cancelled.")
      : (v.detail || `Refused (${r.status}).`);
    out.className = r.ok ? "ok" : "bad";
    if (r.ok) setTimeout(() => location.reload(), 600);
  } catch (e) {
    out.textContent = "hw-proxy did not answer.";
    out.className = "bad";
  }
  button.disabled = false;
}

document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-act]");
  if (b) act(b);
});

// The token form (when hw.token is set): hw-proxy checks it and keeps it
// in an HttpOnly cookie for this site only (this script never holds it).
const form = document.getElementById("token-form");
if (form) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const t = document.getElementById("token").value;
    const r = await fetch("/page-token", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: t }) });
    if (r.ok) return location.reload();
    const p = await r.json().catch(() => ({}));
    alert(p.detail || "That token was refused");
  });
} else {
  setInterval(() => {
    if (!document.querySelector("details[open]")) location.reload();
  }, 5000);
}
