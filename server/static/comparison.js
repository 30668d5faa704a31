// Is the difference real? Each variant's test accuracy with its 95% interval and its verdict
// against the baseline, drawn in the browser from GET /comparison (the trainer's report).
// Self-contained: the page only loads it. Numbers are always printed; the bars only repeat them.

import { $, el, percent } from "./dom.js";

// Okabe-Ito colours (safe for colour-blind readers); grey for "no detectable difference".
const COLOURS = { better: "#009E73", worse: "#D55E00", baseline: "#0072B2" };
const NEUTRAL = "#6b6b6b";
const NO_DIFFERENCE = "no detectable difference";

// "-1.2 points" style differences, signed.
function points(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  const text = (100 * value).toFixed(1);
  return value > 0 ? `+${text}` : text;
}

export function verdictWords(row, baseline) {
  if (row.verdict === "baseline") return "the baseline";
  if (!row.verdict) return `not compared with ${baseline}`;
  if (row.verdict === NO_DIFFERENCE) return `not measurably different from ${baseline}`;
  return `${row.verdict} than ${baseline}`;
}

function detail(row) {
  if (!Array.isArray(row.diff_ci95)) return "";
  const [low, high] = row.diff_ci95;
  const p = typeof row.p_holm === "number" ? `, p = ${row.p_holm.toPrecision(2)} (Holm)` : "";
  return ` (${points(row.diff)} points, 95% CI ${points(low)} to ${points(high)}${p})`;
}

// Maps an accuracy to a left offset in percent, on one axis shared by every row.
function axis(rows) {
  let low = Math.min(...rows.map(([, row]) => row.ci95[0]));
  let high = Math.max(...rows.map(([, row]) => row.ci95[1]));
  const pad = Math.max((high - low) * 0.05, 0.005);
  low = Math.max(0, low - pad);
  high = Math.min(1, high + pad);
  const span = high - low || 1;
  return { low, high, at: (value) => `${((value - low) / span) * 100}%` };
}

function mark(className, styles) {
  const node = el("span", { class: className });
  Object.assign(node.style, styles);
  return node;
}

function track(row, base, x) {
  const colour = COLOURS[row.verdict] || NEUTRAL;
  const box = el("div", { class: "ci-track", "aria-hidden": "true" });
  if (base) {
    box.append(mark("ci-base-band", { left: x.at(base.ci95[0]),
      width: `calc(${x.at(base.ci95[1])} - ${x.at(base.ci95[0])})` }));
    box.append(mark("ci-base-line", { left: x.at(base.accuracy) }));
  }
  box.append(mark("ci-interval", { left: x.at(row.ci95[0]), background: colour,
    width: `calc(${x.at(row.ci95[1])} - ${x.at(row.ci95[0])})` }));
  box.append(mark("ci-dot", { left: x.at(row.accuracy), background: colour }));
  return box;
}

function rowItem(name, row, report, x) {
  const base = report.variants[report.baseline];
  const seeds = row.seeds > 1 ? ` · ${row.seeds} seeds, sd ${percent(row.sd)}` : "";
  const value = `${percent(row.accuracy)} (95% CI ${percent(row.ci95[0])}–${percent(row.ci95[1])})`;
  return el("li", { class: "ci-row", dataset: { variant: name, verdict: row.verdict || "none" } },
    el("div", { class: "ci-head" }, el("code", { text: name }),
      el("span", { class: "ci-value", text: value + seeds })),
    track(row, base, x),
    el("p", { class: "ci-verdict", "data-testid": "verdict",
      text: verdictWords(row, report.baseline) + detail(row) }));
}

function notes(report) {
  const test = report.test_set || {};
  const parts = [];
  if (test.size) parts.push(`${test.size.toLocaleString()} test images of ${test.data_source}.`);
  const q = report.cochran_q;
  if (q && typeof q.q === "number") {
    parts.push(`Cochran's Q over all ${q.k} variants: ${q.q.toFixed(2)}, p = ${q.p.toPrecision(2)}.`);
  }
  const box = el("div", { class: "ci-notes" }, el("p", { class: "note", text: parts.join(" ") }));
  const rule = el("details", {}, el("summary", { text: "How a verdict is decided" }),
    el("p", { class: "note", text: report.rule || "" }));
  box.append(rule);
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
  if (!rows.length) {
    chart.replaceChildren(el("p", { class: "note", text: "No model has test-set predictions to compare yet." }));
    chart.append(notes(report));
    return;
  }
  const x = axis(rows);
  const scale = el("div", { class: "ci-axis", "aria-hidden": "true" },
    el("span", { text: percent(x.low) }), el("span", { text: "test accuracy" }),
    el("span", { text: percent(x.high) }));
  chart.replaceChildren(scale,
    el("ol", { class: "ci-list", "data-testid": "comparison-rows" },
      ...rows.map(([name, row]) => rowItem(name, row, report, x))),
    notes(report));
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
