// The history views: events by kind, camera, time and plate text with a detail (scene image),
// alarms by ThingsBoard status (the staff view is staff.js).
import { get } from "./api/client.js";
import { t, word } from "./i18n/i18n.js";
import { alarmText } from "./alarm_text.js";
import { el, nameOf, turn, when } from "./site.js";

const KINDS = ["", "plate", "face", "access", "alarm", "reading", "device"];
const SINCE = ["1h", "24h", "7d", "30d"];
const STATUSES = ["", "active_unack", "active_ack", "cleared_unack", "cleared_ack"];

function options(select, values, label) {
  select.replaceChildren(
    ...values.map((v) => {
      const o = el("option", "", label(v));
      o.value = v;
      return o;
    }),
  );
}

export function fillFilters(cameras) {
  options(document.getElementById("f-kind"), KINDS, (k) => (k ? word("kind", k) : t("events.all_kinds")));
  const ids = ["", ...cameras.map((c) => c.id)];
  const names = Object.fromEntries(cameras.map((c) => [c.id, c.name]));
  options(document.getElementById("f-source"), ids, (c) => (c ? names[c] : t("events.all_cameras")));
  options(document.getElementById("f-since"), SINCE, (s) => word("since", s));
  options(document.getElementById("f-status"), STATUSES, (s) => (s ? word("alarm_status", s) : t("alarms.all")));
}

export async function findEvents() {
  const stale = turn("events"); // opening the view searches too; the guard's search wins
  const f = document.getElementById("event-filter");
  const q = new URLSearchParams({ limit: "200", since: f.since.value });
  if (f.kind.value) q.set("kind", f.kind.value);
  if (f.source.value) q.set("source", f.source.value);
  if (f.plate.value.trim()) q.set("plate", f.plate.value.trim());
  const doc = await get(`/api/events?${q}`);
  if (stale()) return;
  const ul = document.getElementById("found");
  ul.replaceChildren();
  if (!doc.events.length) ul.append(el("li", "", t("events.none")));
  for (const e of doc.events) {
    const li = el("li", "found");
    const text = e.kind === "alarm" ? alarmText({ ...e.data, source: e.source }, nameOf)
      : e.data.plate || e.data.message || nameOf(e.source);
    const b = el("button", "link", `${when(e.ts_ms)} ${word("kind", e.kind)} ${text}`);
    b.type = "button";
    b.addEventListener("click", () => detail(e));
    li.append(b);
    ul.append(li);
  }
}

// Fields whose values are words of a catalogue group, names from the config, or times.
const ENUMS = {
  decision: "decision", category: "category", direction: "direction", state: "alarm_state",
  severity: "severity", mode: "gate_mode", colour: "plate_colour",
};
const NAMED = ["camera", "gate", "device"];
const TIMES = ["first_seen", "last_seen"]; // epoch seconds
const HIDDEN = ["extra", "box", "pass_event", "pending_id", "track_id"]; // ids and pixels

function shown(k, v) {
  if (k in ENUMS) return word(ENUMS[k], String(v));
  if (NAMED.includes(k)) return nameOf(String(v));
  if (TIMES.includes(k) && typeof v === "number") return when(v * 1000);
  if (k === "match" && typeof v === "object") {
    const who = v.name || v.person_id;
    return who ? `${who} · ${word("match", v.result)}` : word("match", v.result);
  }
  if (typeof v === "boolean") return word("value", String(v));
  if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(2);
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function detail(e) {
  const box = document.getElementById("detail");
  box.hidden = false;
  box.replaceChildren(el("h3", "", `${word("kind", e.kind)} · ${when(e.ts_ms)} · ${nameOf(e.source)}`));
  const dl = el("dl");
  for (const [k, v] of Object.entries(e.data)) {
    if (v === null || v === undefined || v === "" || HIDDEN.includes(k)) continue;
    dl.append(el("dt", "", word("field", k)), el("dd", "", shown(k, v)));
  }
  box.append(dl);
  e.images.forEach((im, n) => {
    const fig = el("figure");
    const img = el("img");
    img.src = `/api/events/${encodeURIComponent(e.id)}/images/${n}`;
    img.alt = word("image_role", im.role);
    fig.append(img, el("figcaption", "", word("image_role", im.role)));
    box.append(fig);
  });
}

export async function alarmHistory() {
  const stale = turn("alarm-history");
  const status = document.getElementById("f-status").value;
  const doc = await get(`/api/alarms?limit=200${status ? `&status=${status}` : ""}`);
  if (stale()) return;
  const ul = document.getElementById("alarm-history");
  ul.replaceChildren();
  if (!doc.alarms.length) ul.append(el("li", "", t("alarms.none_found")));
  for (const a of doc.alarms) {
    const li = el("li", `alarm ${a.severity} ${a.status}`);
    li.append(el("b", "", word("severity", a.severity)), " ", alarmText(a, nameOf), " ");
    li.append(el("small", "", `${word("alarm_status", a.status)} · ${when(a.raised_ms)}`));
    // Who handled it and when (the audit has the same, with the note).
    if (a.acked_by) li.append(el("small", "", ` · ${t("alarms.acked_by", { who: a.acked_by, at: when(a.acked_ms) })}`));
    if (a.closed_by) li.append(el("small", "", ` · ${t("alarms.closed_by", { who: a.closed_by, at: when(a.closed_ms) })}`));
    ul.append(li);
  }
}
