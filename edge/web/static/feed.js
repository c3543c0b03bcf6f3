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

export async function events() {
  const docs = await Promise.all(LIVE_KINDS.map((k) => get(`/api/events?limit=20&kind=${k}`)));
  const all = docs.flatMap((d) => d.events).sort((a, b) => b.ts_ms - a.ts_ms).slice(0, 20);
  const ul = document.getElementById("events");
  ul.replaceChildren(...all.map(eventItem));
}

// `on[kind](event)` is called for each live event of that kind (the alarm list, the passes
// waiting for the guard follow them).
export function live(on) {
  // New events arrive over the WebSocket; after a gap (or a reconnect) the list is reloaded.
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/live`);
  ws.addEventListener("message", (msg) => {
    const doc = JSON.parse(msg.data);
    if (doc.gap) events();
    if (on[doc.event.kind]) on[doc.event.kind](doc.event);
    if (!LIVE_KINDS.includes(doc.event.kind)) return;
    const ul = document.getElementById("events");
    if (ul.querySelector(`[data-id="${doc.event.id}"]`)) return;
    ul.prepend(eventItem(doc.event));
    while (ul.children.length > MAX_EVENTS) ul.lastChild.remove();
  });
  ws.addEventListener("close", () => setTimeout(() => { events(); live(on); }, 2000));
}
