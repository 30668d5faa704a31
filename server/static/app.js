// RegServe's drawing page: draw or upload a character, ask every variant, show the answers.
// Plain JavaScript modules: no build step, nothing loaded from other sites.

import { loadVariants, showDataSource } from "./about.js";
import {
  TOP_K, ensureCard, fillAnswer, fillMeta, markStale, resetCards, setBusy, showAgreement, showInput,
} from "./cards.js";
import { $ } from "./dom.js";
import { INCLUDE, loadModelViews, resetInputViews, showInputViews } from "./insight.js";
import { createPad } from "./pad.js";
import { CORRUPTIONS_INCLUDE, loadRobustness, resetCorruptions, showCorruptions } from "./robustness.js";

// Wait this long after a stroke ends before asking, so that a character of several strokes
// costs one request, not one per stroke.
const DEBOUNCE_MS = 300;
const REQUEST_TIMEOUT_MS = 30000;

const state = {
  seq: 0,             // id of the newest request; answers to older ones are stale
  controller: null,   // AbortController of the request in flight
  timer: null,        // debounce timer
  answers: 0,         // answers shown so far (tests wait on it through #cards[data-answers])
  info: {},           // variant name -> its entry in /variants
};

function showError(message) {
  $("error").textContent = message;
}

function setStatus(message, busy = false) {
  $("status").textContent = message;
  $("status").dataset.busy = String(busy);
}

// The API answers {"error": code, "detail": sentence}: the sentence first, the code after it.
function serverErrorText(response, body) {
  const status = `The server answered ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  if (!body || (body.error === undefined && body.detail === undefined)) return `${status}.`;
  const { error, detail } = body;
  if (typeof detail === "string" && detail.trim()) return `${status}: ${detail}${error ? ` (${error})` : ""}`;
  if (detail && typeof detail === "object") return `${status}: ${error}: ${JSON.stringify(detail)}`;
  return `${status}: ${error}`;
}

function cancelPending() {
  clearTimeout(state.timer);
  state.seq += 1;  // whatever is still on its way is now stale
  if (state.controller) state.controller.abort();
  state.controller = null;
  setBusy(false);
}

async function ask(blob, filename, what) {
  cancelPending();
  const seq = state.seq;
  const controller = new AbortController();
  state.controller = controller;
  let timedOut = false;
  const timeout = setTimeout(() => { timedOut = true; controller.abort(); }, REQUEST_TIMEOUT_MS);
  const form = new FormData();
  form.append("image", blob, filename);
  setStatus(`Asking every variant about ${what}…`, true);
  setBusy(true);
  let response;
  let body = null;
  try {
    // Plain /predict answers each variant's newest version; older ones are asked by name@version.
    const older = Object.keys(state.info).some((name) => name.includes("@"));
    const variants = older ? `&variant=${encodeURIComponent(Object.keys(state.info).join(","))}` : "";
    response = await fetch(`/predict?top=${TOP_K}&include=${INCLUDE},${CORRUPTIONS_INCLUDE}${variants}`, { method: "POST", body: form, signal: controller.signal });
    body = await response.json().catch(() => null);
  } catch (error) {
    if (seq !== state.seq) return;  // replaced by a newer request: nothing to report
    fail(timedOut ? `The server did not answer within ${REQUEST_TIMEOUT_MS / 1000} s.`
                  : `Cannot reach the server (${error.message}).`);
    return;
  } finally {
    clearTimeout(timeout);
  }
  if (seq !== state.seq) return;  // a stale answer: a newer input is already on its way
  if (!response.ok || !body || typeof body.variants !== "object") {
    fail(response.ok ? "The server's answer was not a prediction." : serverErrorText(response, body));
    return;
  }
  state.controller = null;
  setBusy(false);
  showError("");
  render(body, what);
}

// "Too little ink": a dot scaled up to the whole frame reads as some character; say so.
function showInkWarning(warning) {
  $("ink-warning").textContent = warning ? `Too little ink: ${warning.detail}.` : "";
  $("ink-warning").hidden = !warning;
}

function fail(message) {
  state.controller = null;
  setBusy(false);
  markStale();
  showError(message);
  setStatus("No answer for this input.");
}

function render(answer, what) {
  const vote = showAgreement(answer);
  for (const [name, result] of Object.entries(answer.variants)) {
    const card = ensureCard(name, result.label);
    fillMeta(card, { ...(state.info[name] || {}), ...(result.version !== undefined && { version: result.version }) });
    fillAnswer(card, result, vote);
  }
  showInput(answer.input);
  showInkWarning(answer.input && answer.input.warning);
  showInputViews(answer);
  showCorruptions(answer);
  if (answer.data) showDataSource([[null, answer.data]]);
  state.answers += 1;
  $("cards").dataset.answers = String(state.answers);
  setStatus(`Answered for ${what} at ${new Date().toLocaleTimeString([], { hour12: false })}.`);
}

const pad = createPad($("pad"), $("pad-hint"), {
  onStrokeStart: () => clearTimeout(state.timer),  // the character is not finished yet
  onStrokeEnd: () => {
    clearTimeout(state.timer);
    state.timer = setTimeout(async () => {
      const blob = await pad.toBlob();
      if (blob) ask(blob, "drawing.png", "your drawing");
      else showError("The drawing could not be read from the canvas.");
    }, DEBOUNCE_MS);
  },
});

$("clear").addEventListener("click", () => {
  cancelPending();
  pad.clear();
  resetCards();
  resetInputViews();
  resetCorruptions();
  showInkWarning(null);
  showError("");
  setStatus("Cleared. Draw a character, or upload an image of one.");
});

$("file").addEventListener("change", async (event) => {
  const input = event.target;
  const file = input.files && input.files[0];
  if (!file) return;
  await pad.show(file);
  ask(file, file.name || "upload", `“${file.name || "the upload"}”`);
  input.value = "";  // choosing the same file again should ask again
});

resetInputViews();
resetCorruptions();
loadVariants(showError).then((info) => {
  state.info = info || {};
  loadModelViews(Object.keys(state.info));
  loadRobustness(Object.keys(state.info));
});
