// Lambda sweeps on the page: the trainer's sweep charts, and a picker of which variants to
// compare (the registered variants, or one family across its lambdas). Reads only /reports: the
// trainer writes sweep_<name>.json beside its charts. Self-contained: the page only loads it.

import { $, el, percent } from "./dom.js";

const ALL = "all";
const SEED = "seed";
const state = { groups: new Map([[ALL, null]]) };  // picker value -> Set of names (null: all)

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

async function loadSweeps() {
  const listing = await fetchJson("/reports");
  const files = (listing.files || []).filter((name) => /^sweep_.+\.json$/.test(name)).sort();
  const sweeps = [];
  for (const file of files) {
    try {
      sweeps.push(await fetchJson(`/reports/${encodeURIComponent(file)}`));
    } catch (error) {
      console.warn(`sweep report ${file} unreadable: ${error.message}`);
    }
  }
  return sweeps;
}

// Every name a sweep trained; what is left among the cards are the registered variants.
function sweepNames(sweeps) {
  const names = new Set();
  for (const sweep of sweeps) {
    for (const family of sweep.families || []) family.points.forEach((p) => names.add(p.point));
  }
  return names;
}

function buildGroups(sweeps) {
  const trained = sweepNames(sweeps);
  state.groups.set(SEED, (name) => !trained.has(name));
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
    el("option", { value: SEED, text: "The registered variants (no sweep points)" }));
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

function summaryTable(sweep) {
  const rows = (sweep.families || []).map((family) => {
    const best = family.points.find((p) => p.point === family.best) || {};
    const close = family.points.find((p) => p.point === family.sparsest_within_1pt) || {};
    const sparsity = family.sparsity === "weight_sparsity" ? "weights |w|<1e-3" : "zero activations";
    return el("tr", {},
      el("td", {}, el("code", { text: family.family })),
      el("td", { text: `${best.lam}` }), el("td", { text: percent(best.val_accuracy) }),
      el("td", { text: percent(best.test_accuracy) }),
      el("td", { text: `${close.lam} (${sparsity} ${percent(close[family.sparsity])})` }));
  });
  return el("table", { class: "sweep-table", "data-testid": "sweep-table" },
    el("thead", {}, el("tr", {}, ...["family", "best lambda", "val acc", "test acc",
      "sparsest within 1 point"].map((text) => el("th", { text })))),
    el("tbody", {}, ...rows));
}

function sweepFigure(sweep) {
  const figure = el("figure", { class: "chart", dataset: { sweep: sweep.sweep, testid: "sweep-chart" } });
  if (sweep.chart) {
    const src = `/reports/${encodeURIComponent(sweep.chart)}`;
    figure.append(el("a", { href: src, title: "Open the full-size chart" },
      el("img", { src, alt: `Sweep ${sweep.sweep}: accuracy and sparsity against lambda` })));
  }
  const base = sweep.baseline ? `; baseline none: test accuracy ${percent(sweep.baseline.test_accuracy)}` : "";
  figure.append(el("figcaption", {}, `Sweep ${sweep.sweep} on ${(sweep.data_sources || []).join(", ")}${base}. `,
    el("a", { href: `/reports/${encodeURIComponent(sweep.markdown)}`, text: "Report (Markdown)" })));
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
