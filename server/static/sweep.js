// Lambda sweeps on the page: each family's accuracy against lambda (mean +- one standard error,
// drawn here from sweep_<name>.json, regserve_contracts/sweep.py) with its two picks or why it
// has none, points at chance marked, and a picker of which variants to compare (the
// registered variants, or one family across its lambdas). Reads /sweeps.
// Self-contained: the page only loads it.

import { $, el, percent } from "./dom.js";

const ALL = "all";
const REGISTERED = "registered";
const NS = "http://www.w3.org/2000/svg";
const COLOURS = { val: "#2f5fd0", test: "#5d6678", best: "#1e8a4c", one_se: "#7a3fb5", base: "#9aa3b2" };
const PICKS = [["best", "best"], ["one_se", "1 SE"]];
const state = { groups: new Map([[ALL, null]]) };  // picker value -> Set of names (null: all)

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// The server reads every sweep_<name>.json through its contract (GET /sweeps); a report
// that does not parse (an older schema may have picked on test accuracy) is not drawn.
async function loadSweeps() {
  const listing = await fetchJson("/sweeps");
  for (const item of listing.unreadable || []) console.warn(`sweep report ${item.file} not drawn: ${item.detail}`);
  return listing.sweeps || [];
}

// Every name a sweep trained, its baseline included; the other cards are the registered variants.
function sweepNames(sweeps) {
  const names = new Set();
  for (const sweep of sweeps) {
    if (sweep.baseline) names.add(sweep.baseline.point);
    for (const family of sweep.families || []) family.points.forEach((p) => names.add(p.point));
  }
  return names;
}

function buildGroups(sweeps) {
  const trained = sweepNames(sweeps);
  state.groups.set(REGISTERED, (name) => !trained.has(name));
  for (const sweep of sweeps) {
    for (const family of sweep.families || []) {
      const names = new Set(family.points.map((p) => p.point));
      if (sweep.baseline) names.add(sweep.baseline.point);
      state.groups.set(`${sweep.sweep}/${family.family}`, names);
    }
  }
}

function matches(group, name) {
  if (group === null) return true;
  return typeof group === "function" ? group(name) : group.has(name);
}

// Show only the chosen variants' cards; cards that arrive later follow the same choice.
function applyChoice() {
  const box = $("cards");
  if (!box) return;
  const choice = $("compare").value;
  const group = state.groups.get(choice) ?? null;
  let shown = 0;
  for (const card of box.querySelectorAll("[data-variant]")) {
    card.hidden = !matches(group, card.dataset.variant);
    shown += card.hidden ? 0 : 1;
  }
  box.dataset.compare = choice;
  $("compare-count").textContent = `${shown} shown`;
}

function picker(sweeps) {
  const select = el("select", { id: "compare", "data-testid": "compare" },
    el("option", { value: ALL, text: "Every variant" }),
    el("option", { value: REGISTERED, text: "The registered variants (no sweep points)" }));
  for (const sweep of sweeps) {
    for (const family of sweep.families || []) {
      select.append(el("option", { value: `${sweep.sweep}/${family.family}`,
        text: `${family.family} across ${family.points.length} lambdas (sweep ${sweep.sweep})` }));
    }
  }
  select.addEventListener("change", applyChoice);
  return el("p", { class: "compare", "data-testid": "compare-picker" },
    el("label", { for: "compare", text: "Compare: " }), select, " ",
    el("span", { id: "compare-count", class: "muted" }));
}

// A family's picks, or none where it refused to pick (family.refusal says why).
function picksOf(family) {
  return family.picks || {};
}

function withSe(mean, se) {
  const spread = typeof se === "number" && Number.isFinite(se) ? ` ± ${percent(se)}` : "";
  return `${percent(mean)}${spread}`;
}

function summaryTable(sweep) {
  const rows = [];
  for (const family of sweep.families || []) {
    const sparsity = family.sparsity === "weight_sparsity" ? "weights |w|<1e-3" : "zero activations";
    if (family.refusal) {
      rows.push(el("tr", { dataset: { pick: "none", family: family.family } },
        el("td", {}, el("code", { text: family.family })), el("td", { text: "none" }),
        el("td", { colspan: 4, class: "refusal", "data-testid": "sweep-refusal", text: family.refusal.replaceAll("`", "") })));
      continue;
    }
    for (const [key, label] of PICKS) {
      const chosen = picksOf(family)[key];
      if (!chosen) continue;
      rows.push(el("tr", { dataset: { pick: key, family: family.family } },
        el("td", {}, el("code", { text: family.family })), el("td", { text: label }),
        el("td", { text: `${chosen.lambda}` }), el("td", { text: withSe(chosen.val_accuracy, chosen.val_se) }),
        el("td", { text: withSe(chosen.test_accuracy, chosen.test_se) }),
        el("td", { text: `${sparsity} ${percent(chosen.sparsity)}` })));
    }
  }
  // Six columns do not fit a phone: the table scrolls sideways inside its own box instead.
  return el("div", { style: "overflow-x: auto; max-width: 100%" },
    el("table", { class: "sweep-table", "data-testid": "sweep-table" },
      el("thead", {}, el("tr", {}, ...["family", "pick", "lambda", "val acc", "test acc",
        "sparsity"].map((text) => el("th", { text })))),
      el("tbody", {}, ...rows)));
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(typeof child === "string" ? document.createTextNode(child) : child);
  return node;
}

const label = (x, y, content, attrs = {}) => svg("text", { x, y, "font-size": 11, fill: "#5d6678", ...attrs }, content);
const finite = (value) => typeof value === "number" && Number.isFinite(value);

// Accuracy against log10(lambda): validation and test means with one-SE error bars, the
// baseline's test accuracy dashed, each pick a labelled vertical line. 360 units wide, so it
// reads at a phone's 390 px.
function familyChart(family, baseline) {
  const width = 360, height = 240, left = 40, right = 14, top = 34, bottom = 40;
  const points = family.points;
  const logs = points.map((p) => Math.log10(p.lam));
  // Room on both sides, so the end points' error bars and pick labels are not cut off.
  const lo = Math.min(...logs), hi = Math.max(...logs), pad = hi > lo ? 0.08 * (hi - lo) : 0.5;
  const x = (lam) => left + ((Math.log10(lam) - lo + pad) / (hi - lo + 2 * pad)) * (width - left - right);
  const values = [];
  for (const p of points) {
    for (const key of ["val", "test"]) {
      if (!finite(p[`${key}_accuracy`])) continue;
      const se = finite(p[`${key}_se`]) ? p[`${key}_se`] : 0;
      values.push(p[`${key}_accuracy`] - se, p[`${key}_accuracy`] + se);
    }
  }
  if (baseline && finite(baseline.test_accuracy)) values.push(baseline.test_accuracy);
  if (!values.length) values.push(0, 1);
  let yLo = Math.max(0, Math.min(...values)), yHi = Math.min(1, Math.max(...values));
  const margin = Math.max(0.01, (yHi - yLo) * 0.1);
  yLo = Math.max(0, yLo - margin); yHi = Math.min(1, yHi + margin);
  const y = (value) => top + (1 - (value - yLo) / (yHi - yLo || 1)) * (height - top - bottom);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
    class: "sweep-svg", "data-family": family.family, style: "max-width: 520px; display: block",
    "aria-label": `${family.family}: validation and test accuracy against lambda, mean ± one standard error` });
  for (let tick = 0; tick <= 4; tick += 1) {
    const value = yLo + (tick / 4) * (yHi - yLo);
    root.append(svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), stroke: "#edf0f5" }),
      label(left - 4, y(value) + 4, percent(value), { "text-anchor": "end" }));
  }
  const every = Math.ceil(points.length / 6);  // at most six lambda labels: they must not touch
  points.forEach((p, i) => {
    if (i % every === 0) root.append(label(x(p.lam), height - bottom + 14, p.lam.toExponential(0), { "text-anchor": "middle", class: "tick" }));
  });
  root.append(label((left + width - right) / 2, height - 6, "lambda (log scale)", { "text-anchor": "middle" }));
  if (baseline && finite(baseline.test_accuracy)) {
    root.append(svg("line", { x1: left, x2: width - right, y1: y(baseline.test_accuracy), y2: y(baseline.test_accuracy),
      stroke: COLOURS.base, "stroke-dasharray": "5 4", class: "baseline" }, svg("title", {}, `baseline ${baseline.point}: test ${percent(baseline.test_accuracy)}`)));
  }
  const picks = picksOf(family);
  PICKS.forEach(([key, text], index) => {
    if (!picks[key]) return;
    const px = x(picks[key].lambda);
    root.append(svg("line", { x1: px, x2: px, y1: top, y2: height - bottom, stroke: COLOURS[key],
      "stroke-width": 1.5, "stroke-dasharray": key === "best" ? "" : "3 3", class: "pick", "data-pick": key },
      svg("title", {}, `${key}: lambda ${picks[key].lambda}`)));
    root.append(label(px, top - 6 - 12 * index, text, { "text-anchor": "middle", fill: COLOURS[key], "font-weight": 600 }));
  });
  for (const [key, shift] of [["val", -3], ["test", 3]]) {
    const drawn = points.filter((p) => finite(p[`${key}_accuracy`]));
    const d = drawn.map((p, i) => `${i ? "L" : "M"}${(x(p.lam) + shift).toFixed(1)},${y(p[`${key}_accuracy`]).toFixed(1)}`).join("");
    root.append(svg("path", { d, fill: "none", stroke: COLOURS[key], "stroke-width": 1.5 }));
    for (const p of drawn) {
      const cx = x(p.lam) + shift, mean = p[`${key}_accuracy`], se = finite(p[`${key}_se`]) ? p[`${key}_se`] : 0;
      // A point at chance is drawn hollow and says so: it is never a pick.
      const mark = p.collapsed === true ? { fill: "#fff", stroke: COLOURS[key], class: "point collapsed", "data-collapsed": "true" }
                                        : { fill: COLOURS[key], class: "point", "data-collapsed": "false" };
      root.append(svg("line", { x1: cx, x2: cx, y1: y(mean - se), y2: y(mean + se), stroke: COLOURS[key], class: "error-bar" }),
        svg("circle", { cx, cy: y(mean), r: 3, "data-point": p.point, ...mark },
          svg("title", {}, `${p.point}, ${key === "val" ? "validation" : "test"}: ${withSe(mean, p[`${key}_se`])}` +
            (p.collapsed === true ? " (collapsed: at chance, never picked)" : ""))));
    }
  }
  return root;
}

function legend() {
  const item = (colour, text, dashed) => el("span", { class: "sweep-key" },
    el("span", { "aria-hidden": "true", style: `display:inline-block;width:14px;border-top:2px ${dashed ? "dashed" : "solid"} ${colour};margin:0 4px 3px 8px` }), text);
  return el("p", { class: "note" }, item(COLOURS.val, "validation"), item(COLOURS.test, "test"),
    item(COLOURS.base, "baseline (test)", true), item(COLOURS.best, "best"), item(COLOURS.one_se, "1 SE pick", true),
    el("span", { class: "sweep-key" }, " ○ hollow: at chance (collapsed), never picked"));
}

function sweepFigure(sweep) {
  const figure = el("figure", { class: "chart", dataset: { sweep: sweep.sweep, testid: "sweep-chart" } });
  for (const family of sweep.families || []) {
    figure.append(el("h3", { text: `${family.family}` }), familyChart(family, sweep.baseline));
    const said = family.refusal || family.se_note;
    if (said) figure.append(el("p", { class: "note", dataset: { family: family.family, testid: "sweep-note" }, text: said.replaceAll("`", "") }));
  }
  const seeds = sweep.seeds > 1 ? `${sweep.seeds} seeds per point, ` : "one seed per point, ";
  const base = sweep.baseline ? `; baseline ${sweep.baseline.point}: test accuracy ${withSe(sweep.baseline.test_accuracy, sweep.baseline.test_se)}` : "";
  figure.append(legend(), el("figcaption", {},
    `Sweep ${sweep.sweep} on ${(sweep.data_sources || []).join(", ")}: ${seeds}mean ± one standard error${base}. `,
    el("a", { href: `/reports/${encodeURIComponent(sweep.markdown)}`, text: "Report (Markdown)" })));
  if (sweep.rule) figure.append(el("p", { class: "note", text: sweep.rule.replaceAll("`", "") }));
  return figure;
}

async function main() {
  const section = $("sweeps");
  if (!section) return;
  let sweeps;
  try {
    sweeps = await loadSweeps();
  } catch (error) {
    console.warn(`no sweep reports: ${error.message}`);
    return;
  }
  if (!sweeps.length) return;
  buildGroups(sweeps);
  section.replaceChildren(el("h2", { text: "Which lambda? The sweeps" }));
  for (const sweep of sweeps) section.append(sweepFigure(sweep), summaryTable(sweep));
  section.hidden = false;
  $("cards").before(picker(sweeps));
  new MutationObserver(applyChoice).observe($("cards"), { childList: true });
  applyChoice();
}

main();
