// Is the difference real? Each variant's difference from the baseline with its 95% interval
// (over seeds and test images) and the verdict about the recipes, drawn in the browser from
// GET /comparison. The words come from the report itself (verdict_text), never from here.
// Self-contained: the page only loads it. Numbers are always printed; the bars only repeat them.

import { $, el, percent } from "./dom.js";

// Okabe-Ito colours (safe for colour-blind readers); grey for inconclusive and needs seeds.
export const COLOURS = { better: "#009E73", worse: "#D55E00", equivalent: "#0072B2",
  baseline: "#333333" };
const NEUTRAL = "#6b6b6b";

// "+1.2" style differences in points, signed.
function points(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  const text = (100 * value).toFixed(1);
  return value > 0 ? `+${text}` : text;
}

function intervalText(row) {
  if (typeof row.diff !== "number") return "";
  if (!Array.isArray(row.diff_ci95)) return `${points(row.diff)} points over one seed pair, no interval`;
  const [low, high] = row.diff_ci95;
  const p = typeof row.p_holm === "number" ? `, p = ${row.p_holm.toPrecision(2)} (Holm)` : "";
  return `${points(row.diff)} points, 95% CI ${points(low)} to ${points(high)} over ${row.seed_pairs} seed pairs${p}`;
}

// Maps a difference to a left offset in percent, on one axis around zero shared by every row.
function axis(rows, margin) {
  const ends = rows.flatMap(([, row]) => (Array.isArray(row.diff_ci95) ? row.diff_ci95
    : typeof row.diff === "number" ? [row.diff] : []));
  const reach = Math.max(margin * 1.5, ...ends.map(Math.abs)) * 1.05;
  return { low: -reach, high: reach, at: (value) => `${((value + reach) / (2 * reach)) * 100}%` };
}

function mark(className, styles) {
  const node = el("span", { class: className });
  Object.assign(node.style, styles);
  return node;
}

function track(row, x, margin) {
  const colour = COLOURS[row.verdict] || NEUTRAL;
  const box = el("div", { class: "ci-track", "aria-hidden": "true" },
    mark("ci-base-band", { left: x.at(-margin), width: `calc(${x.at(margin)} - ${x.at(-margin)})` }),
    mark("ci-base-line", { left: x.at(0) }));
  if (Array.isArray(row.diff_ci95)) {
    box.append(mark("ci-interval", { left: x.at(row.diff_ci95[0]), background: colour,
      width: `calc(${x.at(row.diff_ci95[1])} - ${x.at(row.diff_ci95[0])})` }));
  }
  if (typeof row.diff === "number") {
    box.append(mark("ci-dot", { left: x.at(row.diff), background: colour }));
  }
  return box;
}

function rowItem(name, row, x, margin) {
  const seeds = row.seeds > 1 ? ` · sd over seeds ${percent(row.sd)}` : "";
  const value = `${percent(row.accuracy)} (95% CI ${percent(row.ci95[0])}–${percent(row.ci95[1])})`;
  const colour = COLOURS[row.verdict] || NEUTRAL;
  const interval = intervalText(row);
  return el("li", { class: "ci-row", dataset: { variant: name, verdict: row.verdict || "none",
    colour } },
    el("div", { class: "ci-head" }, el("code", { text: row.label || name }),
      el("span", { class: "ci-value", text: value + seeds })),
    track(row, x, margin),
    el("p", { class: "ci-verdict", "data-testid": "verdict", text: row.verdict_text || "" }),
    interval ? el("p", { class: "ci-detail", "data-testid": "interval", text: interval }) : null,
    row.models_text ? el("p", { class: "ci-models note", "data-testid": "models",
      text: row.models_text }) : null);
}

function notes(report) {
  const test = report.test_set || {};
  const parts = [];
  if (test.size) parts.push(`${test.size.toLocaleString()} test images of ${test.data_source}.`);
  if (report.method) parts.push(`Method: ${report.method}.`);
  const box = el("div", { class: "ci-notes" }, el("p", { class: "note", text: parts.join(" ") }));
  box.append(el("details", {}, el("summary", { text: "How a verdict is decided" }),
    el("p", { class: "note", text: report.rule || "" })));
  const missing = Array.isArray(report.missing) ? report.missing : [];
  if (missing.length) {
    box.append(el("details", { "data-testid": "comparison-missing-models" },
      el("summary", { text: `Not compared (${missing.length})` }),
      el("ul", {}, ...missing.map((item) =>
        el("li", { text: `${item.model || item.variant}: ${item.reason}` })))));
  }
  return box;
}

export function drawComparison(report) {
  const rows = Object.entries(report.variants || {});
  const chart = $("comparison-chart");
  const margin = typeof report.margin === "number" ? report.margin : 0.01;
  const empty = report.nothing_to_compare
    ? el("p", { class: "note", "data-testid": "nothing-to-compare", text: report.nothing_to_compare })
    : null;
  if (!rows.length) {
    chart.replaceChildren(empty || el("p", { class: "note", text: "No model has test-set predictions to compare yet." }));
    chart.append(notes(report));
    return;
  }
  const x = axis(rows, margin);
  const scale = el("div", { class: "ci-axis", "aria-hidden": "true" },
    el("span", { text: points(x.low) }), el("span", { text: `points against ${report.baseline}` }),
    el("span", { text: points(x.high) }));
  chart.replaceChildren(...[empty, scale,
    el("ol", { class: "ci-list", "data-testid": "comparison-rows" },
      ...rows.map(([name, row]) => rowItem(name, row, x, margin))),
    notes(report)].filter(Boolean));
  chart.dataset.drawn = String(rows.length);
}

async function loadComparison() {
  const figure = $("comparison");
  const missing = $("comparison-missing");
  if (!figure || !missing) return;
  let report = null;
  try {
    // Ask only when the trainer wrote one: the page requests no file that is not there.
    const listing = await fetch("/reports").then((r) => (r.ok ? r.json() : { files: [] }));
    const response = (listing.files || []).includes("comparison.json") ? await fetch("/comparison") : null;
    if (response && response.ok) report = await response.json();
  } catch (error) {
    console.warn(`comparison unavailable: ${error.message}`);
  }
  figure.hidden = !report;
  missing.hidden = Boolean(report);
  if (report) drawComparison(report);
}

loadComparison();
