// What an alarm says, in the page's language. Alarms the daemon raises itself (access
// control, storage, uplinks) carry an English message for the logs and the hub; the page
// says them from the catalogue with the alarm's data, found by the key's prefix. Alarms from
// the installer's rules (thresholds, scene rules) carry the message the config gave them.
import { t } from "./i18n/i18n.js";

const KNOWN = [
  ["access:blacklist:", "blacklist", (a, name) => ({ plate: a.data.plate, gate: name(a.data.gate) })],
  ["access:near_blacklist:", "near_blacklist", (a, name) => ({ plate: a.data.plate, gate: name(a.data.gate) })],
  ["access:gate_not_opening:", "gate_not_opening", (a, name) => ({ gate: name(a.data.gate) })],
  ["access:fire_mode", "fire_mode", (a) => ({ n: (a.data.gates || []).length })],
  ["parking:overstay:", "overstay", (a, name) => ({ vehicle: a.data.vehicle, car_park: name(a.data.car_park) })],
  ["watchlist:", "watchlist", (a, name) => ({ who: a.data.name || a.data.person_id, camera: name(a.source) })],
  ["storage.disk_low", "disk_low", () => ({})],
  ["storage.hard_cap", "hard_cap", (a) => ({ n: a.data.owed_pruned })],
  ["gat1400:", "clock", (a) => ({ s: Number(a.data.offset_s).toFixed(1) })],
];

// `a`: {key, data, message, source} of an alarm row or an alarm event's data.
export function alarmText(a, name) {
  const found = KNOWN.find(([prefix]) => String(a.key || "").startsWith(prefix));
  if (!found || !a.data) return a.message || "";
  return t(`alarm_text.${found[1]}`, found[2](a, name));
}
