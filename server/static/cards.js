// One card per variant, the vote across variants and the 28x28 input the models saw.
// A card's top stripe is its variant's colour in every chart (charts.js); a badge says how its
// answer stands in the vote; a collapsed variant (at chance) says so and is not counted.

import { colourOf, familyLegend } from "./charts.js";
import { $, bar, el, percent } from "./dom.js";

export const TOP_K = 3;
const cards = new Map();  // variant name -> its card, in the order they were first seen
const facts = new WeakMap();  // card -> what /variants said about its version

function makeCard(name, label) {
  const titleId = `card-${name}-title`;
  return el("article", {
    class: "card", "aria-labelledby": titleId, dataset: { variant: name, state: "empty", testid: "card" },
  },
    el("header", { class: "card-head" },
      el("h3", { id: titleId, class: "card-name" }, el("code", {}, ...breakable(name))),
      el("p", { class: "card-label", "data-testid": "label", text: label || "" })),
    el("p", { class: "collapsed-note", "data-testid": "collapsed-note", hidden: true }),
    el("p", { class: "vote-badge", "data-testid": "vote-badge", hidden: true }),
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
    card.style.setProperty("--variant", colourOf(name));
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
  const repeat = info.repeat;  // one card per variant: say which repeat over seeds answers
  if (repeat && repeat.of > 1) parts.push(`repeat ${repeat.index} of ${repeat.of}, seed ${repeat.seed}`);
  card.querySelector(".card-meta").textContent = parts.join(" · ");
  card.style.setProperty("--variant", colourOf(card.dataset.variant));
  facts.set(card, info);
  if (info.collapsed !== undefined) markCollapsed(card, info);
}

// A collapsed variant answers at chance: its card says so, with its penalty's lambda.
function markCollapsed(card, info) {
  const collapsed = info.collapsed === true;
  card.dataset.collapsed = String(collapsed);
  const note = card.querySelector(".collapsed-note");
  note.hidden = !collapsed;
  if (!collapsed) return;
  const lam = info.penalty && info.penalty.lam ? ` at lambda ${info.penalty.lam}` : "";
  const size = info.data && info.data.test_size;
  note.textContent = `Collapsed${lam}: test accuracy ${percent(info.test && info.test.accuracy)}` +
    `${size ? ` on ${size.toLocaleString()} test images` : ""}, no better than chance (1 in 47). ` +
    "Its answer is shown but not counted in the vote.";
}

export function fillAnswer(card, result, vote) {
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
  if (result.collapsed !== undefined) markCollapsed(card, { ...facts.get(card), collapsed: result.collapsed });
  showVote(card, result, vote);
}

const VOTES = {
  agrees: "agrees with the vote",
  differs: "differs from the vote",
  tie: "one of the tied answers",
  split: "no majority",
  excluded: "not counted: at chance",
};

function showVote(card, result, vote) {
  let state;
  if (result.collapsed === true) state = "excluded";
  else if (vote.majority !== null) state = result.prediction === vote.majority ? "agrees" : "differs";
  else state = vote.leaders.includes(result.prediction) ? "tie" : "split";
  card.dataset.vote = state;
  const badge = card.querySelector(".vote-badge");
  badge.textContent = VOTES[state];
  badge.hidden = false;
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
    delete card.dataset.vote;
    card.querySelector(".vote-badge").hidden = true;
    card.querySelector(".prediction").textContent = "";
    card.querySelector(".confidence").textContent = "";
    card.querySelector(".topk").replaceChildren();
    card.querySelector(".activations").replaceChildren(waiting());
  }
  showAgreement({ variants: {} });
  hideInput();
}

// Shows e.g. "5 of 8 variants say ‘A’. Also: ‘4’ × 3." from the server's vote, which leaves
// collapsed variants out and calls a tie a tie. Returns {majority, leaders} for the cards.
export function showAgreement(answer) {
  const agreement = answer.agreement || { votes: {}, majority: null, excluded: [] };
  const ranked = Object.entries(agreement.votes || {}).sort((a, b) => b[1] - a[1]);
  const total = ranked.reduce((sum, [, n]) => sum + n, 0);
  const excluded = agreement.excluded || [];
  const box = $("agreement");
  const vote = { majority: agreement.majority ?? null,
                 leaders: ranked.filter(([, n]) => n === ranked[0]?.[1]).map(([label]) => label) };
  if (!total && !excluded.length) {
    box.replaceChildren();
    box.dataset.state = "empty";
    return vote;
  }
  const notCounted = excluded.length && total
    ? el("p", { class: "agreement-others", text: `Not counted: ${excluded.length} collapsed ` +
        `variant${excluded.length > 1 ? "s" : ""} (at chance).` }) : null;
  let symbol, headline, state, others = ranked.slice(1);
  if (!total) {
    [symbol, state] = ["–", "none"];
    headline = `No vote: all ${excluded.length} variants are at chance.`;
  } else if (vote.majority === null) {
    [symbol, state] = ["=", "tie"];
    const tied = vote.leaders.map((label) => `‘${label}’`).join(" and ");
    headline = `No majority: ${tied} tie with ${ranked[0][1]} of ${total} votes each.`;
    others = ranked.filter(([label]) => !vote.leaders.includes(label));
  } else if (ranked[0][1] === total) {
    [symbol, state] = [vote.majority, "unanimous"];
    headline = total === 1 ? `The only variant counted says ‘${vote.majority}’.`
                           : `All ${total} variants counted agree: ‘${vote.majority}’.`;
  } else {
    [symbol, state] = [vote.majority, "split"];
    headline = `${ranked[0][1]} of ${total} variants say ‘${vote.majority}’.`;
  }
  box.replaceChildren(
    el("span", { class: "agreement-char", "aria-hidden": "true", text: symbol }),
    el("div", { class: "agreement-text" },
      el("p", { text: headline }),
      others.length ? el("p", { class: "agreement-others",
        text: `Also: ${others.map(([label, n]) => `‘${label}’ × ${n}`).join(", ")}.` }) : null,
      notCounted));
  box.dataset.state = state;
  return vote;
}

// The key to every colour on the cards and charts: stripes by family and lambda, badges by vote.
export function showLegend() {
  const families = familyLegend().map((item) => el("li", {},
    el("span", { class: "swatch swatch-range",
                 style: `background:linear-gradient(90deg, ${item.light}, ${item.dark})` }),
    `${item.label}${item.count > 1 ? ` (${item.count} lambdas)` : ""}`));
  $("colour-legend").replaceChildren(
    el("p", { text: "Stripe colour (cards and charts): one hue per penalty, darker for a larger " +
                    "lambda; grey: no penalty." }),
    el("ul", { class: "legend", "data-testid": "family-legend" }, ...families),
    el("p", {}, "Badge: ",
      el("span", { class: "vote-badge", dataset: { key: "agrees" }, text: VOTES.agrees }), " ",
      el("span", { class: "vote-badge", dataset: { key: "differs" }, text: VOTES.differs }), " ",
      el("span", { class: "vote-badge", dataset: { key: "excluded" }, text: VOTES.excluded })));
  $("colour-legend").hidden = !families.length;
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
