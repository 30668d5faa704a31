// Beyond accuracy, side by side: the learner's drawing under every corruption (from /predict's
// include=corruptions), then per model how sure it is (reliability diagrams), how it bears the
// corruptions (a heatmap, the baseline first for reference) and how much it overfits. A model
// at chance (collapsed, regserve_contracts/chance.py) is marked in every view, as on its card,
// and never coloured as doing well: it answers the same whatever it sees.

import { svg } from "./charts.js";
import { $, el, percent } from "./dom.js";

// What the page asks /predict to add for this section.
export const CORRUPTIONS_INCLUDE = "corruptions";
const BASELINE = "none";
const models = { names: [], details: {} };

function placeholder(text) {
  return el("p", { class: "muted view-empty", text });
}

const COLLAPSED_NOTE = "collapsed: at chance, it answers the same whatever it sees";

// Variant names as column heads that read bottom-up, so eight columns fit a phone; a collapsed
// variant's head says so.
function variantHeads(names, collapsed = () => false, first = "") {
  return el("tr", {}, el("th", { scope: "col", class: "corner", text: first }),
    ...names.map((name) => el("th", { scope: "col", class: collapsed(name) ? "variant-head collapsed" : "variant-head",
      title: collapsed(name) ? `${name}: ${COLLAPSED_NOTE}` : null, dataset: { viewOf: name, collapsed: String(collapsed(name)) } },
      el("span", { text: collapsed(name) ? `${name} ✕` : name }))));
}

// What /variants/<name> says (the models' views), or null while unknown.
function modelCollapsed(name) {
  return models.details[name]?.collapsed === true;
}

// --- this input: the drawing under every corruption ---------------------------------------

export function showCorruptions(answer) {
  const shared = answer.corruptions;
  const names = Object.keys(answer.variants || {}).filter((name) => answer.variants[name].corruptions);
  const collapsed = (name) => answer.variants[name].collapsed === true;
  if (!shared || !names.length) {
    $("corruption-grid").replaceChildren(placeholder("No corruptions in this answer."));
    return;
  }
  const rows = shared.images.map((image, row) => el("tr", { dataset: { corruption: image.name } },
    el("th", { scope: "row", class: "corruption-name" },
      el("img", { src: `data:image/png;base64,${image.png_base64}`, width: 28, height: 28,
                  class: "corrupted", alt: `your character, ${image.name.replace("_", " ")}` }),
      el("span", { text: image.name.replace("_", " ") })),
    ...names.map((name) => {
      const reading = answer.variants[name].corruptions.readings[row];
      // At chance, "read as before" is no robustness: neither green nor orange.
      const kind = collapsed(name) ? "collapsed" : reading.same ? "same" : "changed";
      return el("td", { class: kind, "data-testid": "reading",
                        dataset: { viewOf: name, collapsed: String(collapsed(name)) },
                        title: `${name} reads ‘${reading.prediction}’ (${percent(reading.probability, 0)})` +
                               (collapsed(name) ? `; ${COLLAPSED_NOTE}` : "") },
        reading.prediction);
    })));
  const kept = el("tr", { class: "kept" }, el("th", { scope: "row", text: "kept, %" }),
    ...names.map((name) => el("td", { "data-testid": "kept", dataset: { viewOf: name, collapsed: String(collapsed(name)) },
      class: collapsed(name) ? "collapsed" : null,
      title: collapsed(name) ? `${name}: ${COLLAPSED_NOTE}, so what it keeps says nothing`
                             : `${name}: share of the 15 corruptions read as your character was`,
      text: collapsed(name) ? "–" : whole(answer.variants[name].corruptions.kept) })));
  $("corruption-grid").replaceChildren(el("table", { class: "grid-table corruption-table" },
    el("caption", { class: "view-note", text: "Green: read as without the corruption; orange: read as something else; " +
      "grey, ✕: collapsed (at chance), it reads everything the same." }),
    el("thead", {}, variantHeads(names, collapsed)), el("tbody", {}, ...rows, kept)));
}

export function resetCorruptions() {
  $("corruption-grid").replaceChildren(
    placeholder("Draw a character to see it under 15 corruptions, read by every variant."));
}

// --- the models: reliability, heatmap, gap --------------------------------------------------

export async function loadRobustness(names) {
  const details = await Promise.all(names.map((name) =>
    fetch(`/variants/${encodeURIComponent(name)}`)
      .then((response) => (response.ok ? response.json() : null)).catch(() => null)));
  models.names = names;
  names.forEach((name, index) => { if (details[index]) models.details[name] = details[index]; });
  showReliability();
  showHeatmap();
  showGap();
}

// A block is there when the version was evaluated; older ones say {available: false}.
function block(name, key) {
  const value = models.details[name]?.[key];
  return value && value.available !== false ? value : null;
}

function reliabilityDiagram(name, calibration) {
  const size = 150, pad = 22, plot = size - pad - 6;
  const x = (share) => pad + share * plot;
  const y = (share) => 6 + (1 - share) * plot;
  const root = svg("svg", { viewBox: `0 0 ${size} ${size}`, width: "100%", role: "img", class: "reliability",
    "aria-label": `${name}: accuracy against confidence in 15 bins, ECE ${percent(calibration.ece)}` });
  root.append(svg("rect", { x: x(0), y: y(1), width: plot, height: plot, fill: "none", stroke: "#dde1e8" }));
  const bins = calibration.bins;
  const most = Math.max(...bins.map((bin) => bin.count));
  bins.forEach((bin, m) => {
    if (!bin.count) return;
    const left = x(m / bins.length), width = plot / bins.length - 0.6;
    // A bin of a few images says little: the fewer, the paler.
    const weight = (0.25 + 0.75 * Math.sqrt(bin.count / most)).toFixed(2);
    root.append(svg("rect", { x: left, y: y(bin.accuracy), width, height: y(0) - y(bin.accuracy),
                              class: "rel-bin", "fill-opacity": weight },
      svg("title", {}, `confidence ${percent(bin.confidence, 0)}: ${percent(bin.accuracy, 0)} right of ${bin.count}`)));
    // The gap to perfect calibration: from the accuracy to the bin's mean confidence.
    const top = Math.min(bin.accuracy, bin.confidence), bottom = Math.max(bin.accuracy, bin.confidence);
    root.append(svg("rect", { x: left, y: y(bottom), width, height: Math.max(0.5, y(top) - y(bottom)),
                              class: "rel-gap", "fill-opacity": (0.45 * weight).toFixed(2) }));
  });
  root.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "rel-diagonal" }));
  for (const tick of [0, 0.5, 1]) {
    const anchor = tick === 0 ? "start" : tick === 1 ? "end" : "middle";
    root.append(svg("text", { x: x(tick), y: size - 4, "text-anchor": anchor, class: "rel-tick" }, `${tick * 100}%`));
    root.append(svg("text", { x: pad - 3, y: y(tick) + 3, "text-anchor": "end", class: "rel-tick" }, `${tick * 100}`));
  }
  return root;
}

// The ECE's 95% interval over test images, and what a calibrated model would show on as many.
function eceInterval(calibration) {
  const interval = calibration.ece_interval;
  if (!interval) return null;
  const pct = (share) => (100 * share).toFixed(1);
  return el("span", { class: "muted ece-interval", "data-testid": "ece-interval",
    title: `${Math.round(100 * interval.level)}% interval (${interval.method}, ${interval.resamples} resamples). ` +
           `A perfectly calibrated model with these confidences would show an ECE of about ${pct(interval.if_calibrated)}% ` +
           `on ${calibration.images ?? "these"} images: an ECE near that is no evidence of miscalibration.`,
    text: ` [${pct(interval.low)}, ${pct(interval.high)}]; calibrated ≈ ${pct(interval.if_calibrated)}%` });
}

function showReliability() {
  const figures = models.names.map((name) => {
    const calibration = block(name, "calibration");
    const collapsed = modelCollapsed(name);
    return el("figure", { class: collapsed ? "reliability-figure collapsed" : "reliability-figure",
                          dataset: { viewOf: name, testid: "reliability", collapsed: String(collapsed) } },
      calibration ? reliabilityDiagram(name, calibration)
                  : el("p", { class: "muted", text: "not measured for this version" }),
      el("figcaption", {}, el("code", { text: name }),
        collapsed ? el("span", { class: "collapsed-mark", "data-testid": "collapsed-mark", title: COLLAPSED_NOTE,
                                 text: " collapsed" }) : null,
        calibration ? el("span", { class: "ece", "data-testid": "ece",
                                   text: ` ECE ${(100 * calibration.ece).toFixed(2)}%` }) : null,
        calibration ? eceInterval(calibration) : null,
        calibration ? el("span", { class: "muted", text: ` · NLL ${calibration.nll.toFixed(2)}` }) : null));
  });
  $("reliability").replaceChildren(...(figures.length ? figures : [placeholder("No models loaded.")]));
}

// Light to dark blue as accuracy grows; the number is always printed in the cell.
function heat(accuracy) {
  return `hsl(218 65% ${Math.round(96 - 58 * accuracy)}%)`;
}

function showHeatmap() {
  const names = [...models.names].sort((a, b) => (b === BASELINE) - (a === BASELINE));
  const measured = names.filter((name) => block(name, "robustness"));
  if (!measured.length) {
    $("corruption-heatmap").replaceChildren(placeholder("No corruption accuracies stored for these versions (python -m trainer --evaluate adds them)."));
    return;
  }
  const base = block(BASELINE, "robustness");
  const corruptions = Object.keys(block(measured[0], "robustness").corruptions);
  const cell = (name, accuracy, corruption) => {
    const baseError = base ? 1 - base.corruptions[corruption] : null;
    const ce = baseError ? (1 - accuracy) / baseError : null;
    const collapsed = modelCollapsed(name);
    const node = el("td", { class: [name === BASELINE ? "baseline" : "", collapsed ? "collapsed" : ""].join(" ").trim(),
      "data-testid": "heat", dataset: { viewOf: name, collapsed: String(collapsed) }, text: whole(accuracy),
      title: `${name}, ${corruption}: ${percent(accuracy, 1)} right` +
             (ce !== null && name !== BASELINE ? `; error ${percent(ce, 0)} of the baseline's` : "") +
             (collapsed ? `; ${COLLAPSED_NOTE}` : "") });
    if (!collapsed) node.style.background = heat(accuracy);  // a model at chance is not coloured
    if (accuracy > 0.6 && !collapsed) node.classList.add("dark");
    return node;
  };
  const rows = corruptions.map((corruption) => el("tr", {},
    el("th", { scope: "row", text: corruption.replace("_", " ") }),
    ...measured.map((name) => cell(name, block(name, "robustness").corruptions[corruption], corruption))));
  const mean = el("tr", { class: "summary" }, el("th", { scope: "row", text: "mean" }),
    ...measured.map((name) => cell(name, block(name, "robustness").mean_accuracy, "mean")));
  const clean = el("tr", { class: "summary" }, el("th", { scope: "row", text: "clean test" }),
    ...measured.map((name) => cell(name, models.details[name]?.test?.accuracy ?? NaN, "clean")));
  const mce = el("tr", { class: "summary" }, el("th", { scope: "row", text: "mCE" }),
    ...measured.map((name) => el("td", { "data-testid": "mce", dataset: { viewOf: name, collapsed: String(modelCollapsed(name)) },
      class: modelCollapsed(name) ? "collapsed" : null,
      title: "mean over corruptions of this variant's error / the baseline's error" +
             (modelCollapsed(name) ? `; ${COLLAPSED_NOTE}` : ""),
      text: base ? whole(meanCE(block(name, "robustness"), base)) : "–" })));
  const images = block(measured[0], "robustness").images;
  $("corruption-heatmap").replaceChildren(el("table", { class: "grid-table heatmap" },
    el("caption", { class: "view-note", text: `Accuracy (%) on ${images} test images under each corruption; ` +
      `${base ? `the first column, ${BASELINE}, is the baseline; mCE 100% is as robust as it.` : "no baseline loaded."}` +
      (measured.some(modelCollapsed) ? " Grey, ✕: collapsed (at chance), not coloured." : "") }),
    el("thead", {}, variantHeads(measured, modelCollapsed)), el("tbody", {}, clean, ...rows, mean, mce)));
}

// A share as a whole percentage without the sign (the caption says %): narrow cells on a phone.
function whole(share) {
  return Number.isFinite(share) ? String(Math.round(100 * share)) : "–";
}

function meanCE(robustness, base) {
  const ratios = Object.entries(robustness.corruptions)
    .filter(([corruption]) => 1 - base.corruptions[corruption] > 0)
    .map(([corruption, accuracy]) => (1 - accuracy) / (1 - base.corruptions[corruption]));
  return ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : NaN;
}

function points(value) {
  return Number.isFinite(value) ? `${value >= 0 ? "+" : "−"}${Math.abs(100 * value).toFixed(1)} pts` : "–";
}

function showGap() {
  const rows = models.names.map((name) => {
    const general = block(name, "generalization");
    if (!general) {
      return el("div", { class: "gap-row", dataset: { viewOf: name, testid: "gap-row" } },
        el("code", { class: "view-name", text: name }), el("span", { class: "muted", text: "not measured for this version" }));
    }
    const pair = (label, value, kind) => el("span", { class: `gap-bar gap-${kind}` },
      el("span", { class: "gap-fill", style: `width:${Math.max(0, Math.min(1, value)) * 100}%` }),
      el("span", { class: "gap-label", text: `${label} ${percent(value)}` }));
    const collapsed = modelCollapsed(name);
    return el("div", { class: collapsed ? "gap-row collapsed" : "gap-row", dataset: { viewOf: name, testid: "gap-row", collapsed: String(collapsed) } },
      el("code", { class: "view-name", text: collapsed ? `${name} ✕` : name, title: collapsed ? COLLAPSED_NOTE : null }),
      el("span", { class: "gap-bars" }, pair("train", general.train_accuracy, "train"),
        pair("test", general.test_accuracy, "test")),
      el("span", { class: "gap-value", "data-testid": "gap", title: "train accuracy minus test accuracy, no dropout",
                   text: points(general.gap) }),
      el("span", { class: "muted gap-curves", title: "last epoch of the training curves: accuracy minus val_accuracy",
                   text: general.curves ? `curves ${points(general.curves.accuracy_gap)}` : "" }));
  });
  $("generalization-gap").replaceChildren(...(rows.length ? rows : [placeholder("No models loaded.")]));
}
