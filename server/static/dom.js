// Small DOM helpers shared by the page's modules: element building and number formatting.

export const $ = (id) => document.getElementById(id);

// Build an element; server text only ever goes in through textContent, never as HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// 0.9123 -> "91.2%"; anything that is not a number -> "–".
export function percent(value, digits = 1) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  if (value > 0 && value < 0.5 * 10 ** (-digits - 2)) return `<${10 ** -digits}%`;
  return `${(100 * value).toFixed(digits)}%`;
}

// A sideways scroller around `content` that says so when it has to scroll: a hint line above it
// (shown only while the content is wider than the box) and the class `scrolls` for its shadows.
export function scroller(content, hint = "Scroll sideways for every column →") {
  const box = el("div", { class: "table-scroll" }, content);
  const note = el("p", { class: "scroll-hint", "data-testid": "scroll-hint", text: hint, hidden: true });
  const check = () => {
    const scrolls = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("scrolls", scrolls);
    note.hidden = !scrolls;
  };
  if (typeof ResizeObserver === "function") new ResizeObserver(check).observe(box);
  requestAnimationFrame(check);
  return el("div", { class: "scroll-area" }, note, box);
}

// A horizontal bar filled to `share` (0-1); decorative, the number is always printed beside it.
export function bar(share, className = "") {
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = `${Math.max(0, Math.min(1, Number(share) || 0)) * 100}%`;
  return el("span", { class: `bar ${className}`.trim(), "aria-hidden": "true" }, fill);
}
