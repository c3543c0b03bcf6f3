// Gates: each by name with its direction and mode now, opened with a reason (audited with
// the logged-in guard); fire mode; the passes put to the guard, with their crops.
import { get, post } from "./api/client.js";
import { t, word } from "./i18n/i18n.js";
import { el, turn, when } from "./site.js";

export async function gates() {
  const stale = turn("gates");
  const doc = await get("/api/gates");
  if (stale()) return;
  const ul = document.getElementById("gates");
  ul.replaceChildren();
  if (!doc.gates.length) ul.append(el("li", "", t("gates.none")));
  for (const g of doc.gates) {
    const li = el("li", "gate");
    li.dataset.gate = g.id;
    const line = el("div", "line");
    line.append(el("b", "", g.name), " ");
    const facts = [];
    if (g.direction) facts.push(word("direction", g.direction));
    if (g.mode) facts.push(word("gate_mode", g.mode));
    if (g.available === false) facts.push(t("gates.offline"));
    line.append(el("small", g.available === false ? "bad" : "", facts.join(" · ")));
    li.append(line);
    const acts = el("div", "acts");
    const reason = el("input", "reason");
    reason.placeholder = t("gates.reason");
    reason.maxLength = 200;
    const b = el("button", "open", t("gates.open"));
    const msg = el("small", "msg");
    b.addEventListener("click", async () => {
      if (!reason.value.trim()) {
        msg.textContent = t("gates.need_reason");
        return;
      }
      const r = await post(`/api/gates/${encodeURIComponent(g.id)}/open`, { reason: reason.value });
      msg.textContent = r.status === 200 ? t("gates.opened") : t("gates.failed");
      if (r.status === 200) reason.value = "";
    });
    acts.append(reason, b, msg);
    li.append(acts);
    ul.append(li);
  }
  await pending();
}

// Passes the gatekeeper put to the guard, each with the plate or face crop that was seen.
// A row is drawn once and kept while it waits (the image route audits every view of a face:
// redrawing each refresh would fetch and audit it again); `redraw` after a language switch.
let redrawOwed = false; // a newer call than the language switch's draws in the new language

export async function pending(redraw = false) {
  redrawOwed ||= redraw;
  const stale = turn("pending");
  const [r, access] = await Promise.all([fetch("/api/access/pending"), fetch("/api/access")]);
  const ul = document.getElementById("pending");
  if (!r.ok) { // no access control on this gateway
    if (!stale()) ul.replaceChildren();
    return;
  }
  const doc = await r.json();
  const fire = access.ok ? (await access.json()).fire_mode || {} : null;
  if (stale()) return;
  if (redrawOwed) ul.replaceChildren();
  redrawOwed = false;
  if (fire) {
    const li = ul.querySelector("li.fire") || el("li");
    li.className = `fire ${fire.on ? "bad" : "good"}`;
    li.textContent = fire.on ? t("gates.fire_on") : t("gates.fire_off");
    ul.prepend(li);
  }
  const waiting = new Set(doc.pending.map((p) => p.id));
  for (const li of ul.querySelectorAll("li.pending")) if (!waiting.has(li.dataset.id)) li.remove();
  for (const p of doc.pending) {
    ul.append(ul.querySelector(`li.pending[data-id="${CSS.escape(p.id)}"]`) || pendingItem(p));
  }
}

function pendingItem(p) {
  const li = el("li", "pending");
  li.dataset.id = p.id;
  if (p.crop) {
    const img = el("img", "crop");
    img.src = p.crop.url;
    img.alt = word("image_role", p.crop.role);
    li.append(img);
  }
  const what = el("div", "what");
  const seen = p.plate || p.person || t("gates.stranger");
  what.append(el("b", "", t("gates.ask")), " ", seen, " ");
  const where = [p.gate_name || p.gate, when(p.ts_ms)];
  if (p.category) where.push(word("category", p.category));
  what.append(el("small", "", where.join(" · ")));
  const acts = el("div", "acts");
  for (const action of ["approve", "deny"]) {
    const b = el("button", action, t(`gates.${action}`));
    b.addEventListener("click", async () => {
      await post(`/api/access/pending/${encodeURIComponent(p.id)}/${action}`, { reason: "" });
      pending();
    });
    acts.append(b);
  }
  li.append(what, acts);
  return li;
}
