// Small hand-written SVG charts for the insight views: histograms, bars and line charts.
// Each chart scales to its container (viewBox, width 100%), so it stays legible on a phone.

const NS = "http://www.w3.org/2000/svg";

// One colour per variant, in the registry's order; later ones reuse the palette.
const PALETTE = ["#1d2330", "#d04545", "#e08a2c", "#2f5fd0", "#1e8a4c", "#7a3fb5", "#b0417f",
                 "#2b9aa8"];

export function colourOf(index) {
  return PALETTE[index % PALETTE.length];
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
  return svg("text", { x, y, "font-size": 11, fill: "#5d6678", ...attrs }, content);
}

// A histogram of log10|w| with the exact zeros as a separate bar on the left.
// `counts` per bin over `edges`; `zeros` apart; `peak` the shared largest share (same y-axis for
// every variant); `showAxis` prints the decade labels under it.
export function histogram({ edges, counts, zeros }, peak, colour, showAxis) {
  const width = 360, height = showAxis ? 62 : 46, plot = 40, zeroWidth = 16, left = 26;
  const total = zeros + counts.reduce((a, b) => a + b, 0) || 1;
  const span = edges[edges.length - 1] - edges[0];
  const x = (value) => left + zeroWidth + 8 + ((value - edges[0]) / span) * (width - left - zeroWidth - 12);
  const y = (share) => plot - (plot - 2) * Math.min(1, share / (peak || 1));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
                             class: "histogram", preserveAspectRatio: "xMinYMin meet" });
  root.append(svg("line", { x1: left, x2: width - 4, y1: plot, y2: plot, stroke: "#dde1e8" }));
  const zeroShare = zeros / total;
  root.append(svg("rect", { x: left, y: y(zeroShare), width: zeroWidth, height: plot - y(zeroShare),
                            fill: "#b86e00", class: "bin-zero" },
    svg("title", {}, `exactly 0: ${(100 * zeroShare).toFixed(1)}% of the weights`)));
  counts.forEach((count, i) => {
    if (!count) return;
    const share = count / total;
    root.append(svg("rect", { x: x(edges[i]), y: y(share), width: Math.max(1, x(edges[i + 1]) - x(edges[i]) - 0.5),
                              height: plot - y(share), fill: colour, class: "bin" },
      svg("title", {}, `|w| in [1e${edges[i]}, 1e${edges[i + 1]}): ${(100 * share).toFixed(1)}%`)));
  });
  if (showAxis) {
    root.append(text(left + zeroWidth / 2, plot + 13, "0", { "text-anchor": "middle" }));
    for (let decade = Math.ceil(edges[0]); decade <= edges[edges.length - 1]; decade += 2) {
      root.append(text(x(decade), plot + 13, `1e${decade}`, { "text-anchor": "middle" }));
    }
    root.append(text(width - 4, plot + 24, "|w|, log scale", { "text-anchor": "end" }));
  }
  return root;
}

// Lines of (x, y) points in [0, 1] x [0, yMax], one per series {name, colour, points}.
export function lineChart(series, { xLabel, yLabel, yMax = 1 }) {
  const width = 420, height = 260, left = 40, right = 22, top = 10, bottom = 36;
  const x = (value) => left + value * (width - left - right);
  const y = (value) => top + (1 - value / yMax) * (height - top - bottom);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
                             class: "line-chart" });
  for (let tick = 0; tick <= 4; tick += 1) {
    const value = (tick / 4) * yMax;
    root.append(svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), stroke: "#edf0f5" }));
    root.append(text(left - 4, y(value) + 4, `${(100 * value).toFixed(yMax < 0.2 ? 1 : 0)}%`, { "text-anchor": "end" }));
    root.append(text(x(tick / 4), height - bottom + 14, `${tick * 25}%`, { "text-anchor": "middle" }));
  }
  root.append(text(x(0.5), height - 4, xLabel, { "text-anchor": "middle" }));
  root.append(text(12, y(yMax / 2), yLabel, { "text-anchor": "middle",
                                              transform: `rotate(-90 12 ${y(yMax / 2)})` }));
  for (const { name, colour, points } of series) {
    const d = points.map(([px, py], i) => `${i ? "L" : "M"}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join("");
    root.append(svg("path", { d, fill: "none", stroke: colour, "stroke-width": 2, class: "series",
                              "data-series": name }, svg("title", {}, name)));
    for (const [px, py] of points) {
      root.append(svg("circle", { cx: x(px), cy: y(py), r: 2.5, fill: colour }));
    }
  }
  return root;
}
