// The drawing pad: pointer events (mouse, pen, finger) on a canvas, dark ink on white paper.

// Pen width as a share of the pad's side. Measured: strokes this wide on characters that fill
// most of the pad come out of the EMNIST preprocessing with about the ink of real EMNIST
// characters (mean pixel ~40 of 255); thinner pens give spidery inputs the models never saw.
const PEN_FRACTION = 0.085;
const INK = "#111111";
const PAPER = "#ffffff";
// Enough pixels for a sharp stroke on any phone; the server scales everything to 28x28 anyway.
const MAX_SIDE = 1024;

export function createPad(canvas, hint, { onStrokeStart, onStrokeEnd }) {
  const ctx = canvas.getContext("2d");
  let stroke = null;  // {id, x, y} while a pointer is drawing
  let inked = false;

  function wipe() {
    ctx.fillStyle = PAPER;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    inked = false;
    hint.hidden = false;
  }

  // The canvas's pixels follow its size on screen (times the pixel ratio) so strokes stay
  // sharp; resizing a canvas wipes it, so this only happens while nothing is drawn.
  function fit() {
    if (inked) return;
    const ratio = window.devicePixelRatio || 1;
    const side = Math.min(MAX_SIDE, Math.round(canvas.getBoundingClientRect().width * ratio));
    if (side > 0 && side !== canvas.width) {
      canvas.width = side;
      canvas.height = side;
    }
    wipe();
  }

  function pointAt(event) {
    const rect = canvas.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * (canvas.width / rect.width),
      y: (event.clientY - rect.top) * (canvas.height / rect.height),
    };
  }

  function segment(from, to) {
    ctx.strokeStyle = INK;
    ctx.lineWidth = canvas.width * PEN_FRACTION;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    if (stroke) return;  // a second finger while drawing is ignored
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    const point = pointAt(event);
    stroke = { id: event.pointerId, ...point };
    segment(point, point);  // a tap leaves a dot
    inked = true;
    hint.hidden = true;
    onStrokeStart();
  });

  canvas.addEventListener("pointermove", (event) => {
    if (!stroke || event.pointerId !== stroke.id) return;
    event.preventDefault();
    // Coalesced events keep fast strokes round instead of turning them into polygons.
    const samples = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const sample of (samples.length ? samples : [event])) {
      const point = pointAt(sample);
      segment(stroke, point);
      stroke.x = point.x;
      stroke.y = point.y;
    }
  });

  function endStroke(event) {
    if (!stroke || event.pointerId !== stroke.id) return;
    stroke = null;
    if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
    onStrokeEnd();
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);
  window.addEventListener("resize", fit);
  fit();

  return {
    clear() {
      inked = false;
      fit();
    },
    // Show an uploaded picture on the pad, fitted and centred, so the person sees what was
    // sent. Returns false when the browser cannot decode it (the server will say why).
    async show(file) {
      let bitmap;
      try {
        bitmap = await createImageBitmap(file);
      } catch {
        return false;
      }
      wipe();
      const scale = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
      const width = bitmap.width * scale;
      const height = bitmap.height * scale;
      ctx.drawImage(bitmap, (canvas.width - width) / 2, (canvas.height - height) / 2, width, height);
      bitmap.close();
      inked = true;
      hint.hidden = true;
      return true;
    },
    toBlob() {
      return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    },
  };
}
