// What the models are: the list from /variants, their training data and the trainer's reports.

import { $, el } from "./dom.js";
import { ensureCard, fillMeta, fillWeights } from "./cards.js";

// Data sources whose name starts with this are the bundled offline set, not EMNIST.
const OFFLINE_PREFIX = "synthetic";

function isOffline(name) {
  return typeof name === "string" && name.toLowerCase().startsWith(OFFLINE_PREFIX);
}

// Fills a card per model, the data source and the curves; returns {name: entry} or null.
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
  const info = {};
  for (const entry of list) {
    const name = entry.name || entry.variant?.name;
    if (!name) continue;
    info[name] = entry;
    const card = ensureCard(name, entry.label || entry.variant?.label);
    fillWeights(card, entry.weight_sparsity);
    fillMeta(card, entry);
  }
  showDataSource(list.map((entry) => entry.data || entry.data_source), true);
  showCurves(Object.keys(info));
  // Older versions loaded by the version policy get cards of their own, named name@version.
  for (const entry of Array.isArray(body.older_versions) ? body.older_versions : []) {
    info[entry.key] = entry;
    fillMeta(ensureCard(entry.key, entry.label), entry);
  }
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

// Lists the data the models were trained on; warns when it is the bundled offline set.
// Answers from /predict name it too, which only fills in when /variants said nothing.
export function showDataSource(sources, authoritative = false) {
  const seen = new Map();
  for (const source of sources) {
    if (source && source.name && !seen.has(source.name)) seen.set(source.name, source);
  }
  if (!seen.size) return;
  const box = $("data-source");
  if (authoritative || !box.dataset.filled) {
    const items = [...seen.values()].map((source) => {
      const sizes = [source.train_size && `${source.train_size.toLocaleString()} training`,
                     source.test_size && `${source.test_size.toLocaleString()} test`]
        .filter(Boolean).join(", ");
      return el("li", {},
        el("strong", { "data-testid": "data-source-name", text: source.name }),
        source.description ? ` — ${source.description}` : "",
        sizes ? el("span", { class: "muted", text: ` (${sizes} images)` }) : null);
    });
    box.replaceChildren(el("p", { text: "Trained on:" }), el("ul", { class: "source-list" }, ...items));
    box.dataset.filled = "true";
  }
  const offline = [...seen.keys()].find(isOffline);
  if (offline) {
    $("data-warning-name").textContent = `“${offline}”`;
    $("data-warning").hidden = false;
  }
}

// The trainer may not have written reports (yet); the comparison is comparison.js's.
export function showReports() {
  fetch("/reports/results.md", { method: "HEAD" })
    .then((response) => { $("results-md").hidden = !response.ok; })
    .catch(() => {});
}

function showCurves(names) {
  const box = $("curves");
  box.replaceChildren();
  for (const name of names) {
    const image = el("img", { alt: `Training curves of ${name}: loss and accuracy per epoch` });
    const link = el("a", { href: `/reports/curves_${encodeURIComponent(name)}.png`,
                           title: "Open the full-size chart" }, image);
    const figure = el("figure", { class: "chart", hidden: true, dataset: { curvesOf: name } },
      link, el("figcaption", {}, el("code", { text: name })));
    image.addEventListener("load", () => {
      figure.hidden = false;
      $("curves-heading").hidden = false;
    });
    image.addEventListener("error", () => figure.remove());
    image.src = `/reports/curves_${encodeURIComponent(name)}.png`;
    box.append(figure);
  }
}
