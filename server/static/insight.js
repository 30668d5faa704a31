// What a penalty did, side by side: stability and feature maps for this input (from /predict's
// include=), and per model the weight histograms, conv1's filters and the pruning curve.

import { colourOf, histogram, plot, ticks } from "./charts.js";
import { $, bar, el, percent } from "./dom.js";

// What the page asks /predict to add to every answer.
export const INCLUDE = "activations,stability";
const ALL_LAYERS = "all";
const models = { names: [], details: {}, layer: ALL_LAYERS };

function placeholder(text) {
  return el("p", { class: "muted view-empty", text });
}

// --- this input: stability and activation maps -------------------------------------------

export function showInputViews(answer) {
  const entries = Object.entries(answer.variants || {});
  // Steadiest first; a collapsed variant answers the same whatever it sees, so its 100% means
  // nothing: it is listed last, unranked.
  const stable = entries.filter(([, result]) => result.stability).sort(([, a], [, b]) =>
    (a.collapsed === true) - (b.collapsed === true) || b.stability.agreement - a.stability.agreement);
  const unranked = stable.some(([, result]) => result.collapsed === true)
    ? el("p", { class: "muted view-note", text: "Collapsed variants are at chance: a model that " +
        "gives the same answer whatever it sees is steady for no reason, so they are not ranked." })
    : null;
  $("stability").replaceChildren(...(stable.length ? stable.map(([name, result]) =>
    stabilityRow(name, result)) : [placeholder("No stability in this answer.")]), ...(unranked ? [unranked] : []));
  const mapped = entries.filter(([, result]) => result.activations);
  $("activation-maps").replaceChildren(...(mapped.length ? mapped.map(([name, result]) =>
    mapsRow(name, result.activations)) : [placeholder("No feature maps in this answer.")]));
  colourRows();
}

function stabilityRow(name, result) {
  const { agreement, perturbations, mean_probability: mean } = result.stability;
  const row = el("div", { class: "stability-row", dataset: { viewOf: name, testid: "stability-row" } },
    el("code", { class: "view-name", text: name }));
  if (result.collapsed === true) {
    row.dataset.collapsed = "true";
    row.append(el("span", { class: "muted stability-unranked", text: "not ranked: collapsed" }));
    return row;
  }
  row.append(bar(agreement, "bar-stability"),
    el("span", { class: "stability-p", text: percent(agreement, 0),
                 title: `${name}: ${Math.round(agreement * perturbations)} of ${perturbations} perturbed copies read as ‘${result.prediction}’` }),
    el("span", { class: "muted stability-mean", text: `p(‘${result.prediction}’) ${percent(mean, 0)}` }));
  return row;
}

function mapsRow(name, activations) {
  const row = el("div", { class: "maps-row", dataset: { viewOf: name, testid: "maps-row" } },
    el("code", { class: "view-name", text: name }));
  if (activations.available === false) {
    row.append(el("p", { class: "muted", text: activations.detail }));
    return row;
  }
  for (const [layer, view] of Object.entries(activations)) {
    const [height, width, channels] = view.shape;
    const silent = view.silent_channels.length;
    row.append(el("figure", { class: `maps maps-${layer}` },
      el("img", { src: `data:image/png;base64,${view.png_base64}`, class: "mosaic",
                  alt: `${name}, ${layer}: ${channels} feature maps of ${height}×${width}` }),
      el("figcaption", { title: silent ? `silent channels: ${view.silent_channels.join(", ")}` : "" },
        el("strong", { text: layer }), ` ${channels} maps · `,
        el("span", { class: silent ? "silent" : "", "data-testid": "silent",
                     text: `${silent} silent` }))));
  }
  return row;
}

export function resetInputViews() {
  $("stability").replaceChildren(placeholder("Draw a character to see how steady each variant is."));
  $("activation-maps").replaceChildren(placeholder("Draw a character to see what each layer saw."));
}

// --- the models: histograms, filters, pruning --------------------------------------------

export async function loadModelViews(names) {
  models.names = names;
  const details = await Promise.all(names.map((name) =>
    fetch(`/variants/${encodeURIComponent(name)}`)
      .then((response) => (response.ok ? response.json() : null)).catch(() => null)));
  names.forEach((name, index) => { if (details[index]) models.details[name] = details[index]; });
  showLayerPicker();
  showHistograms();
  showFilters();
  showPruning();
}

function layersOf() {
  for (const name of models.names) {
    const histogram = models.details[name]?.weight_histogram;
    if (histogram) return Object.keys(histogram);
  }
  return [];
}

function showLayerPicker() {
  const layers = layersOf();
  const buttons = [ALL_LAYERS, ...layers].map((layer) => {
    const button = el("button", { type: "button", class: "chip", text: layer,
                                  "aria-pressed": String(layer === models.layer) });
    button.addEventListener("click", () => {
      models.layer = layer;
      for (const other of $("histogram-layers").children) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      showHistograms();
    });
    return button;
  });
  $("histogram-layers").replaceChildren(...(layers.length ? buttons : []));
}

// One layer's histogram, or every layer's summed ("all").
function histogramOf(name) {
  const all = models.details[name]?.weight_histogram;
  if (!all) return null;
  if (models.layer !== ALL_LAYERS) return all[models.layer] || null;
  const layers = Object.values(all);
  return {
    edges: layers[0].edges,
    counts: layers[0].counts.map((_, i) => layers.reduce((sum, layer) => sum + layer.counts[i], 0)),
    zeros: layers.reduce((sum, layer) => sum + layer.zeros, 0),
  };
}

function showHistograms() {
  const shown = models.names.map((name) => [name, histogramOf(name)]);
  // One y-axis for every row: the largest share of any bin of any variant.
  const peak = Math.max(1e-9, ...shown.filter(([, h]) => h).map(([, h]) => {
    const total = h.zeros + h.counts.reduce((a, b) => a + b, 0) || 1;
    return Math.max(h.zeros, ...h.counts) / total;
  }));
  const withData = shown.filter(([, h]) => h);
  const rows = shown.map(([name, h]) => el("div",
    { class: "histogram-row", dataset: { viewOf: name, testid: "histogram-row" } },
    el("code", { class: "view-name", text: name }),
    h ? labelled(histogram(h, peak, colourOf(name), name === withData[withData.length - 1]?.[0]),
                 `${name}: how large its weights are (${models.layer === ALL_LAYERS ? "all layers" : models.layer}), ${h.zeros} exactly zero`)
      : el("p", { class: "muted", text: "not stored for this version (exported before histograms)" })));
  $("weight-histograms").replaceChildren(...(rows.length ? rows : [placeholder("No models loaded.")]));
}

function showFilters() {
  const figures = models.names.map((name) => el("figure", { class: "filters", dataset: { viewOf: name } },
    el("img", { src: models.details[name]?.filters || `/variants/${encodeURIComponent(name)}/filters.png`,
                alt: `${name}: conv1's 32 filters, 3×3 each`, "data-testid": "filters-img",
                width: 206, height: 106 }),
    el("figcaption", {}, el("code", { text: name }))));
  $("filters").replaceChildren(...(figures.length ? figures : [placeholder("No models loaded.")]));
}

function showPruning() {
  const series = models.names.map((name) => ({
    name, colour: colourOf(name),
    points: (models.details[name]?.pruning || []).map((p) => [p.removed_share, p.test_accuracy]),
  })).filter((line) => line.points.length);
  if (!series.length) {
    $("pruning").replaceChildren(placeholder("No pruning curves stored for these versions."));
    return;
  }
  const best = Math.max(...series.flatMap((line) => line.points.map(([, accuracy]) => accuracy)));
  const yMax = Math.min(1, Math.max(0.1, Math.ceil(best * 10) / 10));
  const percentOf = (digits) => (value) => `${(100 * value).toFixed(digits)}%`;
  const legend = el("ul", { class: "legend" }, ...series.map((line) => el("li", {},
    el("span", { class: "swatch", style: `background:${line.colour}` }), el("code", { text: line.name }))));
  $("pruning").replaceChildren(
    labelled(plot(series, {
      // As wide as its box (within reason), so its text keeps its size on a phone.
      width: Math.max(300, Math.min(640, $("pruning").clientWidth || 420)),
      x: { min: 0, max: 1, ticks: ticks(0, 1), format: percentOf(0), label: "share of weights set to 0" },
      y: { min: 0, max: yMax, ticks: ticks(0, yMax), format: percentOf(yMax < 0.2 ? 1 : 0), label: "test accuracy" },
    }), "Test accuracy against the share of weights removed, one line per variant"), legend);
}

function labelled(node, label) {
  node.setAttribute("aria-label", label);
  return node;
}

// The variant's colour on the rows of the per-input views too, matching the charts.
function colourRows() {
  for (const row of document.querySelectorAll(".stability-row, .maps-row")) {
    row.style.setProperty("--variant", colourOf(row.dataset.viewOf));
  }
}
