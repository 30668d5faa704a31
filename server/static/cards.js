// One card per variant, the vote across variants and the 28x28 input the models saw.

import { $, bar, el, percent } from "./dom.js";

export const TOP_K = 3;
const cards = new Map();  // variant name -> its card, in the order they were first seen

function makeCard(name, label) {
  const titleId = `card-${name}-title`;
  return el("article", {
    class: "card", "aria-labelledby": titleId, dataset: { variant: name, state: "empty", testid: "card" },
  },
    el("header", { class: "card-head" },
      el("h3", { id: titleId, class: "card-name" }, el("code", {}, ...breakable(name))),
      el("p", { class: "card-label", "data-testid": "label", text: label || "" })),
    el("div", { class: "answer" },
      el("span", { class: "prediction", "data-testid": "prediction" }),
      el("span", { class: "confidence", "data-testid": "confidence" })),
    el("ol", { class: "topk", "data-testid": "topk", "aria-label": `${name}: top ${TOP_K}` }),
    el("div", { class: "facts" },
      el("p", { class: "facts-title", text: "Weights near zero",
                 title: "Share of the model's weights below 1e-3 in size, and exactly zero" }),
      el("dl", { class: "weights", "data-testid": "weight-sparsity" }),
      el("p", { class: "facts-title", text: "Zero activations",
                 title: "Share of each layer's activations that are exactly zero for this input" }),
      el("div", { class: "activations", "data-testid": "activation-sparsity" }, waiting())),
    el("p", { class: "card-meta", "data-testid": "meta" }));
}

// Long registry names may wrap after an underscore, never inside a word.
function breakable(name) {
  return name.split(/(?<=_)/).flatMap((part, i) => (i ? [el("wbr"), part] : [part]));
}

function waiting() {
  return el("p", { class: "muted", text: "after the first answer" });
}

export function ensureCard(name, label) {
  let card = cards.get(name);
  if (!card) {
    card = makeCard(name, label);
    cards.set(name, card);
    $("cards").append(card);
  } else if (label) {
    card.querySelector(".card-label").textContent = label;
  }
  return card;
}

export function fillWeights(card, sparsity) {
  const overall = sparsity && sparsity.all;
  if (!overall) return;
  card.querySelector(".weights").replaceChildren(
    el("div", {}, el("dt", { text: "|w| < 1e-3" }), el("dd", { text: percent(overall["<1e-03"]) })),
    el("div", {}, el("dt", { text: "w = 0" }), el("dd", { text: percent(overall["==0"]) })));
}

export function fillMeta(card, info) {
  const parts = [];
  const accuracy = info.test && info.test.accuracy;
  if (typeof accuracy === "number") parts.push(`test accuracy ${percent(accuracy)}`);
  if (info.version !== undefined && info.version !== null) parts.push(`version ${info.version}`);
  card.querySelector(".card-meta").textContent = parts.join(" · ");
}

export function fillAnswer(card, result, majority) {
  const top = Array.isArray(result.top) ? result.top : [];
  card.querySelector(".prediction").textContent = result.prediction ?? "?";
  card.querySelector(".confidence").textContent = top.length ? percent(top[0].probability) : "";
  card.querySelector(".topk").replaceChildren(...top.slice(0, TOP_K).map((item) =>
    el("li", {},
      el("span", { class: "topk-label", text: item.label }),
      bar(item.probability),
      el("span", { class: "topk-p", text: percent(item.probability) }))));
  fillWeights(card, result.weight_sparsity);
  const rows = Object.entries(result.activation_sparsity || {}).map(([layer, share]) =>
    el("div", { class: "act-row" },
      el("span", { class: "act-layer", text: layer }),
      bar(share, "bar-act"),
      el("span", { class: "act-p", text: percent(share, 0) })));
  card.querySelector(".activations").replaceChildren(
    ...(rows.length ? rows : [el("p", { class: "muted", text: "not reported" })]));
  card.dataset.state = "ready";
  card.dataset.agrees = String(result.prediction === majority);
}

export function setBusy(busy) {
  for (const card of cards.values()) card.classList.toggle("is-busy", busy);
}

// After a failed request the last answers stay visible, dimmed, next to the error message.
export function markStale() {
  for (const card of cards.values()) {
    card.dataset.state = card.dataset.state === "ready" ? "stale" : "empty";
  }
}

export function resetCards() {
  for (const card of cards.values()) {
    card.dataset.state = "empty";
    delete card.dataset.agrees;
    card.querySelector(".prediction").textContent = "";
    card.querySelector(".confidence").textContent = "";
    card.querySelector(".topk").replaceChildren();
    card.querySelector(".activations").replaceChildren(waiting());
  }
  showAgreement({ variants: {} });
  hideInput();
}

function votesOf(answer) {
  if (answer.agreement && answer.agreement.votes) return answer.agreement.votes;
  const votes = {};
  for (const result of Object.values(answer.variants)) {
    votes[result.prediction] = (votes[result.prediction] || 0) + 1;
  }
  return votes;
}

// Shows e.g. "5 of 8 variants say ‘A’. Also: ‘4’ × 3." and returns the majority character.
export function showAgreement(answer) {
  // Most votes first; on a tie the server's own majority leads, then alphabetical order.
  const stated = answer.agreement && answer.agreement.majority;
  const ranked = Object.entries(votesOf(answer)).sort((a, b) =>
    b[1] - a[1] || (b[0] === stated) - (a[0] === stated) || (a[0] < b[0] ? -1 : 1));
  const box = $("agreement");
  const total = ranked.reduce((sum, [, n]) => sum + n, 0);
  if (!total) {
    box.replaceChildren();
    box.dataset.state = "empty";
    return null;
  }
  const [majority, count] = ranked[0];
  const unanimous = count === total;
  const others = ranked.slice(1).map(([label, n]) => `‘${label}’ × ${n}`).join(", ");
  box.replaceChildren(
    el("span", { class: "agreement-char", "aria-hidden": "true", text: majority }),
    el("div", { class: "agreement-text" },
      el("p", { text: unanimous ? `All ${total} variants agree: ‘${majority}’.`
                                : `${count} of ${total} variants say ‘${majority}’.` }),
      unanimous ? null : el("p", { class: "agreement-others", text: `Also: ${others}.` })));
  box.dataset.state = unanimous ? "unanimous" : "split";
  return majority;
}

export function showInput(input) {
  const image = $("input-preview");
  if (input && input.image_png_base64) {
    image.src = `data:image/png;base64,${input.image_png_base64}`;
  } else if (input && Array.isArray(input.pixels)) {
    image.src = pixelsToDataUrl(input.pixels);
  } else {
    return;
  }
  image.hidden = false;
  $("input-placeholder").hidden = true;
}

function pixelsToDataUrl(pixels) {
  const size = pixels.length;
  const canvas = el("canvas", { width: size, height: size });
  const context = canvas.getContext("2d");
  const data = context.createImageData(size, size);
  pixels.forEach((row, y) => row.forEach((value, x) => {
    data.data.set([value, value, value, 255], 4 * (y * size + x));
  }));
  context.putImageData(data, 0, 0);
  return canvas.toDataURL("image/png");
}

function hideInput() {
  $("input-preview").hidden = true;
  $("input-preview").removeAttribute("src");
  $("input-placeholder").hidden = false;
}
