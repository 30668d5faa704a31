// RegServe's drawing page: draw or upload a character, ask every variant, show the answers.
// Plain JavaScript, no build step and nothing loaded from other sites.
"use strict";

(() => {
  // Pen width as a share of the canvas side. Measured: strokes of this width on characters that
  // fill most of the pad come out of the EMNIST preprocessing with about the ink share of real
  // EMNIST characters (mean pixel ~40 of 255); thinner pens give spidery inputs the models
  // never saw in training.
  const PEN_FRACTION = 0.085;
  // Wait this long after a stroke ends before asking, so that a character of several strokes
  // costs one request, not one per stroke.
  const DEBOUNCE_MS = 300;
  const REQUEST_TIMEOUT_MS = 30000;
  const TOP_K = 3;
  const OFFLINE_PREFIX = "synthetic";

  const $ = (id) => document.getElementById(id);
  const pad = $("pad");
  const ctx = pad.getContext("2d");
  const state = {
    order: [],            // variant names in registry order
    cards: new Map(),     // name -> card element
    seq: 0,               // id of the newest request; answers to older ones are stale
    controller: null,     // AbortController of the request in flight
    timer: null,          // debounce timer
    stroke: null,         // {id, x, y} while a pointer is drawing
    inked: false,
    answers: 0,
    info: {},             // name -> the variant's entry in /variants
  };

  // ---- small helpers ------------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
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

  function percent(value, digits = 1) {
    if (typeof value !== "number" || !Number.isFinite(value)) return "–";
    if (value > 0 && value < 0.5 * 10 ** (-digits - 2)) return `<${10 ** -digits}%`;
    return `${(100 * value).toFixed(digits)}%`;
  }

  function bar(share, className = "") {
    const width = Math.max(0, Math.min(1, Number(share) || 0)) * 100;
    const fill = el("span", { class: "bar-fill" });
    fill.style.width = `${width}%`;
    return el("span", { class: `bar ${className}`.trim(), "aria-hidden": "true" }, fill);
  }

  function isOffline(name) {
    return typeof name === "string" && name.toLowerCase().startsWith(OFFLINE_PREFIX);
  }

  // ---- messages -----------------------------------------------------------------------------

  function showError(message) {
    $("error").textContent = message;
  }

  function clearError() {
    $("error").textContent = "";
  }

  function setStatus(message, busy = false) {
    const status = $("status");
    status.textContent = message;
    status.dataset.busy = busy ? "true" : "false";
  }

  function serverErrorText(response, body) {
    const prefix = `The server answered ${response.status}${response.statusText ? " " + response.statusText : ""}`;
    if (!body || typeof body.error !== "string") return `${prefix}.`;
    let detail = "";
    if (typeof body.detail === "string" && body.detail) detail = ` (${body.detail})`;
    else if (body.detail && typeof body.detail === "object") detail = ` (${JSON.stringify(body.detail)})`;
    return `${prefix}: ${body.error}${detail}`;
  }

  // ---- the cards ----------------------------------------------------------------------------

  function makeCard(name, label) {
    const titleId = `card-${name}-title`;
    const card = el("article", {
      class: "card", "aria-labelledby": titleId, dataset: { variant: name, state: "empty", testid: "card" },
    },
      el("header", { class: "card-head" },
        el("h3", { id: titleId, class: "card-name" }, el("code", { text: name })),
        el("p", { class: "card-label", "data-testid": "label", text: label || "" })),
      el("div", { class: "answer" },
        el("output", { class: "prediction", "data-testid": "prediction", "aria-label": `${name} reads` }),
        el("span", { class: "confidence", "data-testid": "confidence" })),
      el("ol", { class: "topk", "data-testid": "topk", "aria-label": `${name}: top ${TOP_K}` }),
      el("div", { class: "facts" },
        el("p", { class: "facts-title", text: "Weights near zero" }),
        el("dl", { class: "weights", "data-testid": "weight-sparsity" }),
        el("p", { class: "facts-title", text: "Zero activations for this input" }),
        el("div", { class: "activations", "data-testid": "activation-sparsity" },
          el("p", { class: "muted", text: "after the first answer" }))),
      el("p", { class: "card-meta", "data-testid": "meta" }));
    return card;
  }

  function ensureCard(name, label) {
    let card = state.cards.get(name);
    if (!card) {
      card = makeCard(name, label);
      state.cards.set(name, card);
      state.order.push(name);
      $("cards").append(card);
    } else if (label) {
      card.querySelector(".card-label").textContent = label;
    }
    return card;
  }

  function fillWeights(card, sparsity) {
    const overall = sparsity && sparsity.all;
    if (!overall) return;
    const list = card.querySelector(".weights");
    list.replaceChildren(
      el("div", {}, el("dt", { text: "|w| < 1e-3" }), el("dd", { text: percent(overall["<1e-03"]) })),
      el("div", {}, el("dt", { text: "w = 0" }), el("dd", { text: percent(overall["==0"]) })));
  }

  function fillMeta(card, info) {
    const parts = [];
    const accuracy = info.test && info.test.accuracy;
    if (typeof accuracy === "number") parts.push(`test accuracy ${percent(accuracy)}`);
    if (info.version !== undefined && info.version !== null) parts.push(`version ${info.version}`);
    card.querySelector(".card-meta").textContent = parts.join(" · ");
  }

  function fillAnswer(card, result, majority) {
    const top = Array.isArray(result.top) ? result.top : [];
    card.querySelector(".prediction").textContent = result.prediction ?? "?";
    card.querySelector(".confidence").textContent = top.length ? percent(top[0].probability) : "";
    card.querySelector(".topk").replaceChildren(...top.slice(0, TOP_K).map((item) =>
      el("li", {},
        el("span", { class: "topk-label", text: item.label }),
        bar(item.probability),
        el("span", { class: "topk-p", text: percent(item.probability) }))));
    fillWeights(card, result.weight_sparsity);
    const activation = result.activation_sparsity || {};
    const rows = Object.entries(activation).map(([layer, share]) =>
      el("div", { class: "act-row" },
        el("span", { class: "act-layer", text: layer }),
        bar(share, "bar-act"),
        el("span", { class: "act-p", text: percent(share, 0) })));
    card.querySelector(".activations").replaceChildren(
      ...(rows.length ? rows : [el("p", { class: "muted", text: "not reported" })]));
    card.dataset.state = "ready";
    card.dataset.agrees = String(result.prediction === majority);
  }

  function resetCards() {
    for (const card of state.cards.values()) {
      card.dataset.state = "empty";
      delete card.dataset.agrees;
      card.querySelector(".prediction").textContent = "";
      card.querySelector(".confidence").textContent = "";
      card.querySelector(".topk").replaceChildren();
      card.querySelector(".activations").replaceChildren(
        el("p", { class: "muted", text: "after the first answer" }));
    }
  }

  // ---- agreement and the input the models saw -----------------------------------------------

  function votesOf(answer) {
    if (answer.agreement && answer.agreement.votes) return answer.agreement.votes;
    const votes = {};
    for (const result of Object.values(answer.variants)) {
      votes[result.prediction] = (votes[result.prediction] || 0) + 1;
    }
    return votes;
  }

  function showAgreement(answer) {
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

  function showInput(input) {
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
      const i = 4 * (y * size + x);
      data.data.set([value, value, value, 255], i);
    }));
    context.putImageData(data, 0, 0);
    return canvas.toDataURL("image/png");
  }

  function hideInput() {
    $("input-preview").hidden = true;
    $("input-preview").removeAttribute("src");
    $("input-placeholder").hidden = false;
  }

  // ---- asking the server --------------------------------------------------------------------

  async function ask(blob, filename, what) {
    clearTimeout(state.timer);
    const seq = ++state.seq;
    if (state.controller) state.controller.abort();
    const controller = new AbortController();
    state.controller = controller;
    let timedOut = false;
    const timeout = setTimeout(() => { timedOut = true; controller.abort(); }, REQUEST_TIMEOUT_MS);
    const form = new FormData();
    form.append("image", blob, filename);
    setStatus(`Asking every variant about ${what}…`, true);
    for (const card of state.cards.values()) card.classList.add("is-busy");
    let response;
    let body = null;
    try {
      response = await fetch(`/predict?top=${TOP_K}`, { method: "POST", body: form, signal: controller.signal });
      body = await response.json().catch(() => null);
    } catch (error) {
      if (seq !== state.seq) return;  // replaced by a newer request: nothing to report
      finish();
      showError(timedOut
        ? `The server did not answer within ${REQUEST_TIMEOUT_MS / 1000} s.`
        : `Cannot reach the server (${error.message}).`);
      setStatus("No answer.");
      return;
    } finally {
      clearTimeout(timeout);
    }
    if (seq !== state.seq) return;  // a stale answer: a newer drawing is already on its way
    finish();
    if (!response.ok || !body || typeof body.variants !== "object") {
      showError(response.ok ? "The server's answer was not a prediction." : serverErrorText(response, body));
      for (const card of state.cards.values()) card.dataset.state = card.dataset.state === "ready" ? "stale" : "empty";
      setStatus("No answer for this input.");
      return;
    }
    clearError();
    render(body, what);
  }

  function finish() {
    state.controller = null;
    for (const card of state.cards.values()) card.classList.remove("is-busy");
  }

  function render(answer, what) {
    const majority = showAgreement(answer);
    for (const [name, result] of Object.entries(answer.variants)) {
      const card = ensureCard(name, result.label);
      fillAnswer(card, result, majority);
      const info = { ...(state.info[name] || {}) };
      if (result.version !== undefined) info.version = result.version;
      fillMeta(card, info);
    }
    showInput(answer.input);
    if (answer.data_source) showDataSource([answer.data_source], false);
    state.answers += 1;
    $("cards").dataset.answers = String(state.answers);
    setStatus(`Answered for ${what} at ${new Date().toLocaleTimeString([], { hour12: false })}.`);
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      pad.toBlob((blob) => {
        if (!blob) { showError("The drawing could not be read from the canvas."); return; }
        ask(blob, "drawing.png", "your drawing");
      }, "image/png");
    }, DEBOUNCE_MS);
  }

  // ---- drawing ------------------------------------------------------------------------------

  function resetPad() {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    state.inked = false;
    $("pad-hint").hidden = false;
  }

  function pointAt(event) {
    const rect = pad.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * (pad.width / rect.width),
      y: (event.clientY - rect.top) * (pad.height / rect.height),
    };
  }

  function segment(from, to) {
    ctx.strokeStyle = "#111111";
    ctx.lineWidth = pad.width * PEN_FRACTION;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }

  pad.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    if (state.stroke) return;  // a second finger while drawing is ignored
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    clearTimeout(state.timer);  // the character is not finished yet
    const point = pointAt(event);
    state.stroke = { id: event.pointerId, ...point };
    segment(point, point);  // a tap leaves a dot
    state.inked = true;
    $("pad-hint").hidden = true;
  });

  pad.addEventListener("pointermove", (event) => {
    if (!state.stroke || event.pointerId !== state.stroke.id) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const sample of (events.length ? events : [event])) {
      const point = pointAt(sample);
      segment(state.stroke, point);
      state.stroke.x = point.x;
      state.stroke.y = point.y;
    }
  });

  function endStroke(event) {
    if (!state.stroke || event.pointerId !== state.stroke.id) return;
    state.stroke = null;
    if (pad.hasPointerCapture(event.pointerId)) pad.releasePointerCapture(event.pointerId);
    schedule();
  }
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);
  pad.addEventListener("lostpointercapture", endStroke);

  $("clear").addEventListener("click", () => {
    clearTimeout(state.timer);
    state.seq += 1;  // any answer still on its way is now stale
    if (state.controller) state.controller.abort();
    finish();
    resetPad();
    resetCards();
    hideInput();
    showAgreement({ variants: {} });
    clearError();
    setStatus("Cleared. Draw a character, or upload an image of one.");
  });

  // ---- uploading a file ---------------------------------------------------------------------

  async function drawOnPad(file) {
    // Show the upload on the pad so that the person sees what was sent; a file the browser
    // cannot decode still goes to the server, whose error message then says why.
    if (!window.createImageBitmap) return;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch {
      return;
    }
    resetPad();
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    const width = bitmap.width * scale;
    const height = bitmap.height * scale;
    ctx.drawImage(bitmap, (pad.width - width) / 2, (pad.height - height) / 2, width, height);
    bitmap.close();
    state.inked = true;
    $("pad-hint").hidden = true;
  }

  $("file").addEventListener("change", async (event) => {
    const input = event.target;
    const file = input.files && input.files[0];
    if (!file) return;
    await drawOnPad(file);
    ask(file, file.name || "upload", `“${file.name || "the upload"}”`);
    input.value = "";  // choosing the same file again should ask again
  });

  // ---- what the models are: /variants and the trainer's reports -----------------------------

  function variantList(body) {
    const list = Array.isArray(body.variants) ? body.variants : Object.values(body.variants || {});
    return list.map((info) => ({ ...info, name: info.name || info.variant?.name,
                                 label: info.label || info.variant?.label }));
  }

  function showDataSource(sources, fromVariants = true) {
    const seen = new Map();
    for (const source of sources) {
      if (source && source.name && !seen.has(source.name)) seen.set(source.name, source);
    }
    if (!seen.size) return;
    if (fromVariants || !$("data-source").dataset.filled) {
      const items = [...seen.values()].map((source) => {
        const sizes = [source.train_size && `${source.train_size.toLocaleString()} training`,
                       source.test_size && `${source.test_size.toLocaleString()} test`]
          .filter(Boolean).join(", ");
        return el("li", {},
          el("strong", { "data-testid": "data-source-name", text: source.name }),
          source.description ? ` — ${source.description}` : "",
          sizes ? el("span", { class: "muted", text: ` (${sizes} images)` }) : null);
      });
      $("data-source").replaceChildren(
        el("p", { text: "Trained on:" }), el("ul", { class: "source-list" }, ...items));
      $("data-source").dataset.filled = "true";
    }
    const offline = [...seen.keys()].find(isOffline);
    if (offline) {
      $("data-warning-name").textContent = `“${offline}”`;
      $("data-warning").hidden = false;
    }
  }

  function showReports() {
    const figure = $("comparison");
    const image = $("comparison-img");
    image.addEventListener("load", () => { figure.hidden = false; $("comparison-missing").hidden = true; });
    image.addEventListener("error", () => { figure.hidden = true; $("comparison-missing").hidden = false; });
    image.src = "/reports/comparison.png";
    fetch("/reports/results.md", { method: "HEAD" })
      .then((response) => { $("results-md").hidden = !response.ok; })
      .catch(() => {});
  }

  function showCurves(names) {
    const box = $("curves");
    box.replaceChildren();
    for (const name of names) {
      const image = el("img", { alt: `Training curves of ${name}: loss and accuracy per epoch`, loading: "lazy" });
      const figure = el("figure", { class: "chart", hidden: true, dataset: { curvesOf: name } },
        image, el("figcaption", {}, el("code", { text: name })));
      image.addEventListener("load", () => { figure.hidden = false; $("curves-heading").hidden = false; });
      image.addEventListener("error", () => figure.remove());
      image.src = `/reports/curves_${encodeURIComponent(name)}.png`;
      box.append(figure);
    }
  }

  async function loadVariants() {
    let body;
    try {
      const response = await fetch("/variants");
      body = await response.json().catch(() => null);
      if (!response.ok) throw new Error(body && body.error ? body.error : `HTTP ${response.status}`);
    } catch (error) {
      showError(`Could not list the models (${error.message}); drawing still works.`);
      $("data-source").replaceChildren(el("p", { class: "muted", text: "Unknown: /variants did not answer." }));
      return;
    }
    const variants = variantList(body);
    for (const info of variants) {
      if (!info.name) continue;
      state.info[info.name] = info;
      const card = ensureCard(info.name, info.label);
      fillWeights(card, info.weight_sparsity);
      fillMeta(card, info);
    }
    showDataSource(variants.map((info) => info.data || info.data_source));
    showCurves(variants.map((info) => info.name).filter(Boolean));
    const failed = Array.isArray(body.failed) ? body.failed : [];
    if (failed.length) {
      const names = failed.map((item) => (typeof item === "string" ? item : `${item.name}${item.error ? ` (${item.error})` : ""}`));
      $("failed-variants").textContent = `Not loaded: ${names.join("; ")}`;
      $("failed-variants").hidden = false;
    }
    if (!variants.length) showError("The server has no models loaded yet: train them first.");
  }

  resetPad();
  showReports();
  loadVariants();
})();
