// The latest events a guard follows, live over the WebSocket: plates with crop, text and
// camera; faces with crop and match; the gates' decisions; alarms.
import { get } from "./api/client.js";
import { t, word } from "./i18n/i18n.js";
import { alarmText } from "./alarm_text.js";
import { el, nameOf, when } from "./site.js";

const MAX_EVENTS = 30;
// What a guard follows live; meter readings and device state have their own sections.
const LIVE_KINDS = ["plate", "face", "access", "alarm"];
// A scene rule's alarm carries the e-bike's, the car's or the person's crop (or a falling
// object's frame strip, as object_crop): the guard sees what raised it at a glance.
const CROPS = { plate: ["plate_crop"], face: ["face_crop"], alarm: ["object_crop", "vehicle_crop"] };

function cropOf(e) {
  // The plate, face or object crop, as the event image route serves it (a face view is
  // audited there).
  const roles = CROPS[e.kind] || [];
  const n = (e.images || []).findIndex((im) => roles.includes(im.role));
  if (n < 0) return null;
  const img = el("img", "crop");
  img.src = `/api/events/${encodeURIComponent(e.id)}/images/${n}`;
  img.alt = word("image_role", e.images[n].role);
  return img;
}

// What a guard reads in one line: the plate and where, who the face is, what the gate did.
function eventLine(e) {
  const d = e.data;
  if (e.kind === "plate") return [d.plate, nameOf(d.camera || e.source)];
  if (e.kind === "face") {
    const m = d.match || {};
    const who = m.result === "unknown" || !m.result ? t("events.face_unknown") : (m.name || m.person_id);
    return [`${who} · ${word("match", m.result || "unknown")}`, nameOf(d.camera || e.source)];
  }
  if (e.kind === "access") {
    const seen = d.plate || d.person_id || t("gates.stranger");
    const what = d.decision ? `${word("decision", d.decision)} ${seen}` : seen; // a card reader's own
    return [what, nameOf(d.gate || e.source)];
  }
  if (e.kind === "alarm") return [alarmText({ ...d, source: e.source }, nameOf), word("alarm_state", d.state)];
  return [d.message || "", nameOf(e.source)];
}

export function eventItem(e) {
  const li = el("li", `event ${e.kind}`);
  li.dataset.id = e.id;
  const crop = cropOf(e);
  if (crop) li.append(crop);
  const [main, where] = eventLine(e);
  li.append(el("time", "", when(e.ts_ms)), " ", el("b", "", word("kind", e.kind)), " ", main, " ");
  li.append(el("small", "", where));
  return li;
}

// The events shown, newest first. A reload merges into it rather than replacing it: an
// event that came over the socket while the reload's query ran (committed after it) stays.
let shown = [];

function draw(redraw) {
  const ul = document.getElementById("events");
  const kept = redraw ? new Map() : new Map([...ul.children].map((li) => [li.dataset.id, li]));
  ul.replaceChildren(...shown.map((e) => kept.get(e.id) || eventItem(e)));
}

function merge(list) {
  const byId = new Map(shown.map((e) => [e.id, e]));
  for (const e of list) byId.set(e.id, e);
  shown = [...byId.values()].sort((a, b) => b.ts_ms - a.ts_ms).slice(0, MAX_EVENTS);
}

// `redraw`: rebuild every line (the language changed), else lines shown are kept as they are.
export async function events(redraw = false) {
  const docs = await Promise.all(LIVE_KINDS.map((k) => get(`/api/events?limit=20&kind=${k}`)));
  merge(docs.flatMap((d) => d.events));
  draw(redraw);
}

// `on[kind](event)` is called for each live event of that kind (the alarm list, the passes
// waiting for the guard follow them). The list is loaded once the socket is open (and again
// after a gap or a reconnect), so no event falls between the load and the subscription.
export function live(on) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/live`);
  ws.addEventListener("open", () => events());
  ws.addEventListener("message", (msg) => {
    const doc = JSON.parse(msg.data);
    if (doc.gap) events();
    if (on[doc.event.kind]) on[doc.event.kind](doc.event);
    if (!LIVE_KINDS.includes(doc.event.kind)) return;
    merge([doc.event]);
    draw(false);
  });
  ws.addEventListener("close", () => setTimeout(() => live(on), 2000));
}
