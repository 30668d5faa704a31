// How the served versions were trained: one row per version (its own data and settings, from
// /variants' metadata) and its training curves, drawn here from the per-epoch history.

import { colourOf, plot, ticks } from "./charts.js";
import { $, el, percent, scroller } from "./dom.js";

const CURVES = [
  { title: "accuracy", train: "accuracy", validation: "val_accuracy", format: (v) => `${Math.round(100 * v)}%` },
  { title: "loss", train: "loss", validation: "val_loss", format: (v) => `${+v.toPrecision(3)}` },
];

function sizes(source) {
  const parts = [source?.train_size && `${source.train_size.toLocaleString()} train`,
                 source?.test_size && `${source.test_size.toLocaleString()} test`];
  return parts.filter(Boolean).join(" / ") || "–";
}

function when(created) {
  if (!created) return "–";
  const date = new Date(created);
  return Number.isNaN(date.getTime()) ? String(created) : date.toISOString().slice(0, 16).replace("T", " ");
}

function seconds(value) {
  if (typeof value !== "number") return "–";
  return value < 90 ? `${value.toFixed(0)} s` : `${(value / 60).toFixed(1)} min`;
}

// entries: [[key, entry]] for every version served (newest ones and older ones by name@version).
export function showTraining(entries) {
  const rows = entries.map(([key, entry]) => {
    const training = entry.training || {};
    const source = entry.data || {};
    return el("tr", { dataset: { trainedOf: key } },
      el("th", { scope: "row" }, el("span", { class: "swatch", style: `background:${colourOf(key)}` }),
        el("code", { text: key })),
      el("td", { text: entry.version ?? "–" }),
      el("td", { class: "source-cell" }, el("span", { text: source.name || "unknown" })),
      el("td", { text: sizes(source) }),
      el("td", { text: training.epochs ?? "–" }),
      el("td", { text: training.batch_size ?? "–" }),
      el("td", { text: training.limit ?? "all" }),
      el("td", { text: training.seed ?? "–" }),
      el("td", { text: percent(entry.test?.accuracy) }),
      el("td", { text: seconds(entry.training_seconds) }),
      el("td", { text: when(entry.created) }));
  });
  const head = ["version", "v", "data", "images", "epochs", "batch", "limit", "seed", "test acc",
                "took", "trained (UTC)"].map((title) => el("th", { scope: "col", text: title }));
  $("trained-table").replaceChildren(rows.length
    ? scroller(el("table", { class: "trained", "data-testid": "trained-table" },
        el("thead", {}, el("tr", {}, ...head)), el("tbody", {}, ...rows)))
    : el("p", { class: "muted", text: "No models loaded." }));
  showCurves(entries);
}

function curveChart(key, history, curve) {
  const train = history[curve.train] || [], validation = history[curve.validation] || [];
  const epochs = Math.max(train.length, validation.length);
  if (!epochs) return null;
  const values = [...train, ...validation].filter(Number.isFinite);
  const top = curve.title === "accuracy" ? Math.min(1, Math.max(0.1, Math.ceil(Math.max(...values) * 10) / 10))
                                         : Math.max(...values) * 1.05 || 1;
  const bottom = curve.title === "accuracy" ? 0 : Math.min(0, ...values);
  const colour = colourOf(key);
  const points = (list) => list.map((value, i) => [i + 1, value]).filter(([, v]) => Number.isFinite(v));
  return plot([
    { name: `${key}: training ${curve.title}`, colour, points: points(train) },
    { name: `${key}: validation ${curve.title}`, colour, points: points(validation), dashed: true },
  ], {
    width: 300, height: 190, title: curve.title,
    x: { min: epochs > 1 ? 1 : 0.5, max: epochs > 1 ? epochs : 1.5, label: "epoch",
         ticks: ticks(1, Math.max(epochs, 1), Math.min(epochs, 4)).filter(Number.isInteger), format: String },
    // The chart's title names the y axis; few ticks keep the labels round (0, 5%, 10%).
    y: { min: bottom, max: top, ticks: ticks(bottom, top, top <= 0.1 ? 2 : 4), format: curve.format, label: "" },
  });
}

function showCurves(entries) {
  const figures = entries.map(([key, entry]) => {
    const charts = CURVES.map((curve) => curveChart(key, entry.history || {}, curve)).filter(Boolean);
    if (!charts.length) return null;
    for (const chart of charts) {
      chart.setAttribute("aria-label", `${key}: ${chart.querySelector("text[font-weight]")?.textContent} per epoch, training solid, validation dashed`);
    }
    return el("figure", { class: "curve-figure", dataset: { curvesOf: key, testid: "curves-figure" } },
      el("figcaption", {}, el("span", { class: "swatch", style: `background:${colourOf(key)}` }),
        el("code", { text: key })),
      el("div", { class: "curve-pair" }, ...charts));
  }).filter(Boolean);
  $("curves-heading").hidden = !figures.length;
  $("curves").replaceChildren(...figures);
}
