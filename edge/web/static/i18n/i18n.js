// Catalogue strings: zh-CN by default, English by the switch (kept in localStorage).
// Every string the page shows comes from i18n/<lang>.json, enum values included.
const LANGS = ["zh-CN", "en"];
let lang = localStorage.getItem("lang") || "zh-CN";
let cat = {};

export async function load() {
  if (!LANGS.includes(lang)) lang = "zh-CN";
  const r = await fetch(`/static/i18n/${lang}.json`);
  cat = await r.json();
  document.documentElement.lang = lang;
  apply(document);
}

export function t(key, vars = {}) {
  const s = cat[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

// An enum value (alarm state, event kind, role...) in words: "enum.<group>.<value>".
export function word(group, value) {
  const key = `enum.${group}.${value}`;
  return key in cat ? cat[key] : String(value);
}

export function apply(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
}

export function current() {
  return lang;
}

export async function toggle() {
  lang = lang === "zh-CN" ? "en" : "zh-CN";
  localStorage.setItem("lang", lang);
  await load();
}
