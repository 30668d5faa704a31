// What the models are, all from /variants (the versions being served): a card per version, the
// colour scheme and its legend, the data each was trained on, and how it was trained.

import { setPalette } from "./charts.js";
import { ensureCard, fillMeta, fillWeights, showLegend } from "./cards.js";
import { $, el } from "./dom.js";
import { showTraining } from "./training.js";

// Data sources whose name starts with this are the bundled offline set, not EMNIST.
const OFFLINE_PREFIX = "synthetic";

function isOffline(name) {
  return typeof name === "string" && name.toLowerCase().startsWith(OFFLINE_PREFIX);
}

// Fills a card per version served, the legend, the data sources and the training views;
// returns {name or name@version: entry} or null.
export async function loadVariants(showError) {
  let body;
  try {
    const response = await fetch("/variants");
    body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(body && body.error ? body.error : `HTTP ${response.status}`);
  } catch (error) {
    showError(`Could not list the models (${error.message}); drawing may still work.`);
    $("data-source").replaceChildren(
      el("p", { class: "muted", text: "Unknown: /variants did not answer." }));
    return null;
  }
  const list = Array.isArray(body.variants) ? body.variants : Object.values(body.variants || {});
  // Older versions loaded by the version policy get cards of their own, named name@version.
  const older = Array.isArray(body.older_versions) ? body.older_versions : [];
  const entries = [...list.filter((entry) => entry.name).map((entry) => [entry.name, entry]),
                   ...older.filter((entry) => entry.key).map((entry) => [entry.key, entry])];
  setPalette(entries.map(([key, entry]) => ({ ...entry, key })));
  const info = {};
  for (const [key, entry] of entries) {
    info[key] = entry;
    const card = ensureCard(key, entry.label);
    fillWeights(card, entry.weight_sparsity);
    fillMeta(card, entry);
  }
  showLegend();
  showDataSource(entries, true);
  showTraining(entries);
  showFailed(Array.isArray(body.failed) ? body.failed : []);
  if (!list.length) showError("The server has no models loaded: train them first.");
  return info;
}

function showFailed(failed) {
  if (!failed.length) return;
  // A broken newer version leaves an older one serving (serving_version): say which.
  const names = failed.map((item) => {
    if (typeof item === "string") return item;
    const which = item.version ? ` version ${item.version}` : "";
    const fallback = item.serving_version ? `; version ${item.serving_version} still serves` : "";
    return `${item.name}${which}${item.error ? ` (${item.error}${fallback})` : fallback}`;
  });
  $("failed-variants").textContent = `Failed to load: ${names.join("; ")}`;
  $("failed-variants").hidden = false;
}

// Lists each data source with the versions trained on it; warns when it is the offline set.
// `entries` are [key, entry] pairs from /variants; an answer from /predict only fills in
// when /variants said nothing (authoritative = false).
export function showDataSource(entries, authoritative = false) {
  const seen = new Map();
  for (const [key, entry] of entries) {
    const source = entry.data || entry;
    if (!source || !source.name) continue;
    if (!seen.has(source.name)) seen.set(source.name, { source, keys: [] });
    if (key) seen.get(source.name).keys.push(key);
  }
  if (!seen.size) return;
  const box = $("data-source");
  if (authoritative || !box.dataset.filled) {
    const items = [...seen.values()].map(({ source, keys }) => el("li", {},
      el("strong", { "data-testid": "data-source-name", text: source.name }),
      source.description ? ` — ${source.description}` : "",
      keys.length ? el("span", { class: "muted",
        text: ` Used by ${keys.length === entries.length && seen.size === 1 ? "every version served"
                                                                            : keys.join(", ")}.` })
        : null));
    box.replaceChildren(el("p", { text: "Trained on:" }), el("ul", { class: "source-list" }, ...items));
    box.dataset.filled = "true";
  }
  const offline = [...seen.keys()].find(isOffline);
  if (offline) {
    $("data-warning-name").textContent = `“${offline}”`;
    $("data-warning").hidden = false;
  }
}
