// The page's one colour scheme and its small hand-written SVG charts (histograms, line charts).
// Colours: one hue per penalty family (penalty x place), a shade per lambda within the family
// (darker = larger lambda), grey for no penalty, so 20+ variants stay apart. Every chart keeps
// its text inside its viewBox and scales to its container, so it stays legible on a phone.

const NS = "http://www.w3.org/2000/svg";
const INK = "#5d6678";

// Hue per family; `none` is grey. Families not listed get a hue from their name.
export const FAMILIES = [
  { key: "none/none", label: "no penalty", hue: null },
  { key: "l1/kernel_bias", label: "L1 on weights", hue: 4 },
  { key: "l1/activity", label: "L1 on activations", hue: 32 },
  { key: "l2/kernel_bias", label: "L2 on weights", hue: 214 },
  { key: "l2/activity", label: "L2 on activations", hue: 150 },
  { key: "elasticnet/kernel_bias", label: "elastic net on weights", hue: 276 },
  { key: "elasticnet/activity", label: "elastic net on activations", hue: 322 },
];
const LIGHTEST = 64, DARKEST = 30;  // lightness (%) of the smallest and the largest lambda

const palette = { colours: new Map(), order: [], families: new Map() };
let announce;
const ready = new Promise((resolve) => { announce = resolve; });

export function familyOf(penalty) {
  const kind = penalty?.penalty || "none", where = penalty?.where || "none";
  return `${kind}/${where}`;
}

function hueOf(family) {
  const known = FAMILIES.find((f) => f.key === family);
  if (known) return known.hue;
  let hash = 0;
  for (const c of family) hash = (hash * 31 + c.charCodeAt(0)) % 360;
  return hash;
}

function shade(hue, rank, count) {
  if (hue === null) return `hsl(220, 8%, ${count > 1 ? 22 + 30 * rank / (count - 1) : 24}%)`;
  const lightness = count > 1 ? LIGHTEST - (LIGHTEST - DARKEST) * rank / (count - 1) : 44;
  return `hsl(${hue}, 68%, ${lightness.toFixed(0)}%)`;
}

// entries: [{name, penalty: {penalty, where, lam}}] as /variants lists them (older versions too).
export function setPalette(entries) {
  palette.colours.clear();
  palette.families.clear();
  palette.order = entries.map((entry) => entry.key || entry.name);
  for (const entry of entries) {
    const family = familyOf(entry.penalty);
    if (!palette.families.has(family)) palette.families.set(family, new Set());
    palette.families.get(family).add(Number(entry.penalty?.lam) || 0);
  }
  for (const entry of entries) {
    const family = familyOf(entry.penalty);
    const lambdas = [...palette.families.get(family)].sort((a, b) => a - b);
    const rank = lambdas.indexOf(Number(entry.penalty?.lam) || 0);
    palette.colours.set(entry.key || entry.name, shade(hueOf(family), rank, lambdas.length));
  }
  announce();
}

// Resolves once the variants' colours are known (charts drawn before then would be grey).
export function whenPalette() {
  return ready;
}

// A variant's colour, by name (or name@version), or by its index in the list /variants gave.
export function colourOf(key) {
  const name = typeof key === "number" ? palette.order[key] : key;
  return palette.colours.get(name) || palette.colours.get(String(name).split("@")[0]) || "#7b8496";
}

// The families present, each with its lightest and darkest shade, for legends.
export function familyLegend() {
  return [...palette.families.entries()].map(([family, lambdas]) => {
    const hue = hueOf(family), count = lambdas.size;
    const known = FAMILIES.find((f) => f.key === family);
    return { family, label: known ? known.label : family.replace("/", " on "), count,
             light: shade(hue, 0, count), dark: shade(hue, count - 1, count) };
  });
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function text(x, y, content, attrs = {}) {
  return svg("text", { x, y, "font-size": 12, fill: INK, ...attrs }, content);
}

// 10 to the power `decade` as people read it: 10⁻⁶, 0.01, 1, 10.
function powerOfTen(decade) {
  if (decade >= -2 && decade <= 1) return String(10 ** decade);
  const digits = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
  return `10${[...String(decade)].map((c) => digits[c]).join("")}`;
}

// A histogram of log10|w| with the exact zeros as a separate bar on the left.
// `counts` per bin over `edges`; `zeros` apart; `peak` the shared largest share (same y-axis for
// every variant); `showAxis` prints the decade labels and the axis title under it.
export function histogram({ edges, counts, zeros }, peak, colour, showAxis) {
  const width = 360, plot = 40, height = showAxis ? plot + 34 : plot + 4, zeroWidth = 16;
  const left = 8, right = 14, gapAfterZero = 10;
  const total = zeros + counts.reduce((a, b) => a + b, 0) || 1;
  const first = edges[0], last = edges[edges.length - 1];
  const start = left + zeroWidth + gapAfterZero;
  const x = (value) => start + ((value - first) / (last - first)) * (width - start - right);
  const y = (share) => plot - (plot - 2) * Math.min(1, share / (peak || 1));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
                             class: "histogram chart-svg", preserveAspectRatio: "xMinYMin meet" });
  root.append(svg("line", { x1: left, x2: width - right, y1: plot, y2: plot, stroke: "#dde1e8" }));
  const zeroShare = zeros / total;
  root.append(svg("rect", { x: left, y: y(zeroShare), width: zeroWidth, height: plot - y(zeroShare),
                            fill: "#b86e00", class: "bin-zero" },
    svg("title", {}, `exactly 0: ${(100 * zeroShare).toFixed(1)}% of the weights`)));
  counts.forEach((count, i) => {
    if (!count) return;
    const share = count / total;
    root.append(svg("rect", { x: x(edges[i]), y: y(share), width: Math.max(1, x(edges[i + 1]) - x(edges[i]) - 0.5),
                              height: plot - y(share), fill: colour, class: "bin" },
      svg("title", {}, `|w| from ${powerOfTen(edges[i])} to ${powerOfTen(edges[i + 1])}: ${(100 * share).toFixed(1)}%`)));
  });
  if (showAxis) {
    root.append(text(left + zeroWidth / 2, plot + 14, "0", { "text-anchor": "middle" }));
    // Every second decade, never at the ends: a label there would run into the zero bar's "0"
    // or past the right edge.
    for (let decade = Math.ceil(first) + 1; decade < last; decade += 2) {
      root.append(svg("line", { x1: x(decade), x2: x(decade), y1: plot, y2: plot + 3, stroke: INK }));
      root.append(text(x(decade), plot + 14, powerOfTen(decade), { "text-anchor": "middle" }));
    }
    root.append(text(width - right, plot + 30, "|w|, log scale (left bar: exactly 0)",
                     { "text-anchor": "end" }));
  }
  return root;
}

// Ticks for [min, max]: about `count` round values.
export function ticks(min, max, count = 4) {
  const raw = (max - min) / count || 1;
  const step = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw))).find((s) => s >= raw);
  const values = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) values.push(+v.toFixed(10));
  return values;
}

// Lines over any x and y range. series: [{name, colour, points: [[x, y]], dashed}];
// x and y: {min, max, ticks, format, label}. Margins leave room for every label.
export function plot(series, { x: xAxis, y: yAxis, width = 420, height = 250, title = "" }) {
  const left = yAxis.label ? 58 : 44, right = 24, top = title ? 24 : 10, bottom = 42;
  const x = (v) => left + ((v - xAxis.min) / ((xAxis.max - xAxis.min) || 1)) * (width - left - right);
  const y = (v) => top + (1 - (v - yAxis.min) / ((yAxis.max - yAxis.min) || 1)) * (height - top - bottom);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
                             class: "line-chart chart-svg" });
  if (title) root.append(text(left, 15, title, { "font-weight": 600, fill: "#1d2330" }));
  for (const value of yAxis.ticks) {
    root.append(svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), stroke: "#edf0f5" }));
    root.append(text(left - 5, y(value) + 4, yAxis.format(value), { "text-anchor": "end" }));
  }
  for (const value of xAxis.ticks) {
    root.append(text(x(value), height - bottom + 16, xAxis.format(value), { "text-anchor": "middle" }));
  }
  root.append(text(left + (width - left - right) / 2, height - 6, xAxis.label, { "text-anchor": "middle" }));
  const middle = top + (height - top - bottom) / 2;
  if (yAxis.label) {
    root.append(text(13, middle, yAxis.label, { "text-anchor": "middle", transform: `rotate(-90 13 ${middle})` }));
  }
  for (const { name, colour, points, dashed } of series) {
    const d = points.map(([px, py], i) => `${i ? "L" : "M"}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join("");
    root.append(svg("path", { d, fill: "none", stroke: colour, "stroke-width": 2, class: "series",
                              "stroke-dasharray": dashed ? "5 3" : null, "data-series": name },
      svg("title", {}, name)));
    for (const [px, py] of points) {
      root.append(svg("circle", { cx: x(px), cy: y(py), r: 2.5, fill: dashed ? "#fff" : colour,
                                  stroke: colour }));
    }
  }
  return root;
}

