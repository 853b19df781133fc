// The mask painter's front end (anywidget): an image with a canvas over it. Brush strokes are
// painted onto an offscreen canvas the size of the image (synced as a PNG data URI in
// `painted`); rectangles and polygons are synced as shapes in image pixels in `regions`; the
// eraser's strokes (`erased`, a PNG the size of the image) cut through strokes and shapes alike.
// Everything painted shows as a tint with a dark-and-light outline, visible on any image; the
// brush shows its size as a ring under the pointer. Undo (button or Ctrl+Z) steps back one action.

const MODES = [
  ["brush", "Brush"],
  ["rect", "Rectangle"],
  ["polygon", "Polygon"],
  ["erase", "Erase"],
];
const TINT = "#ff2d55";
const CLOSE_PX = 10; // a click this close (screen px) to the first point closes the polygon

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function layer(w, h_) {
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h_;
  return c;
}

function render({ model, el }) {
  const width = () => model.get("width");
  const height = () => model.get("height");

  // Full-size strokes and erasures live here; the visible canvas only shows them scaled.
  const strokes = layer(1, 1);
  const strokeCtx = strokes.getContext("2d");
  const erased = layer(1, 1);
  const eraseCtx = erased.getContext("2d");

  function loadInto(ctx, canvas, uri, done) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!uri) { done && done(); return; }
    const img = new Image();
    img.onload = () => { ctx.clearRect(0, 0, canvas.width, canvas.height); ctx.drawImage(img, 0, 0, canvas.width, canvas.height); done && done(); redraw(); };
    img.src = uri;
  }
  function resetLayers() {
    for (const c of [strokes, erased]) { c.width = width(); c.height = height(); }
    loadInto(strokeCtx, strokes, model.get("painted"));
    loadInto(eraseCtx, erased, model.get("erased") || "");
  }

  const picture = h("img", { src: model.get("preview"), draggable: "false",
    style: { display: "block", maxWidth: "100%", userSelect: "none" } });
  const canvas = h("canvas", { style: { position: "absolute", left: "0", top: "0", width: "100%", height: "100%",
    cursor: "crosshair", touchAction: "none" }, tabindex: "0" });
  const stage = h("div", { style: { position: "relative", display: "inline-block" } }, picture, canvas);
  const ctx = canvas.getContext("2d");

  // -- undo: a snapshot of the synced state before each action ---------------------------------
  const history = [];
  function snapshot() {
    history.push({ regions: model.get("regions"), painted: model.get("painted"), erased: model.get("erased") || "" });
    if (history.length > 50) history.shift();
  }
  function undo() {
    if (pending.length) { pending.pop(); redraw(); return; }
    const last = history.pop();
    if (!last) return;
    model.set("regions", last.regions);
    model.set("painted", last.painted);
    model.set("erased", last.erased);
    model.save_changes();
    loadInto(strokeCtx, strokes, last.painted);
    loadInto(eraseCtx, erased, last.erased);
    redraw();
  }

  const status = h("span", { class: "wb-mask-status", style: { marginLeft: "8px", font: "12px sans-serif" } });
  const buttons = MODES.map(([mode, label]) => h("button", { "data-mode": mode, onclick: () => {
    model.set("mode", mode); model.save_changes(); pending = []; redraw();
  } }, label));
  const size = h("input", { type: "range", min: "2", max: "400", value: String(model.get("brush")),
    oninput: (e) => { model.set("brush", Number(e.target.value)); model.save_changes(); } });
  const undoButton = h("button", { class: "wb-undo", title: "Undo (Ctrl+Z)", onclick: undo }, "Undo");
  const clear = h("button", { onclick: () => {
    snapshot();
    strokeCtx.clearRect(0, 0, strokes.width, strokes.height);
    eraseCtx.clearRect(0, 0, erased.width, erased.height);
    model.set("regions", []); model.set("painted", ""); model.set("erased", ""); model.save_changes();
    pending = []; redraw();
  } }, "Clear");
  el.append(h("div", { class: "wb-mask-painter" }, h("div", {}, status, " ", ...buttons, " brush ", size, undoButton, clear), stage));

  let pending = []; // polygon points being placed, in image pixels
  let drag = null;  // rectangle being dragged, or the last brush point
  let hover = null; // the pointer, for the brush ring

  function toImage(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * width() / box.width, (event.clientY - box.top) * height() / box.height];
  }
  const scale = () => [canvas.width / width(), canvas.height / height()];

  function shapePath(c, region, sx, sy) {
    c.beginPath();
    if (region.points) {
      region.points.forEach(([x, y], i) => (i ? c.lineTo(x * sx, y * sy) : c.moveTo(x * sx, y * sy)));
      c.closePath();
    } else {
      c.rect(region.x * sx, region.y * sy, region.w * sx, region.h * sy);
    }
  }

  // The painted area (strokes ∪ shapes − erased) as an opaque silhouette at screen size.
  function silhouette() {
    const area = layer(canvas.width, canvas.height);
    const a = area.getContext("2d");
    const [sx, sy] = scale();
    a.drawImage(strokes, 0, 0, area.width, area.height);
    a.fillStyle = "#000";
    for (const region of model.get("regions")) { shapePath(a, region, sx, sy); a.fill(); }
    a.globalCompositeOperation = "destination-out";
    a.drawImage(erased, 0, 0, area.width, area.height);
    return area;
  }
  function coloured(area, colour) {
    const c = layer(area.width, area.height);
    const x = c.getContext("2d");
    x.drawImage(area, 0, 0);
    x.globalCompositeOperation = "source-in";
    x.fillStyle = colour;
    x.fillRect(0, 0, c.width, c.height);
    return c;
  }

  function redraw() {
    canvas.width = picture.clientWidth || width();
    canvas.height = picture.clientHeight || height();
    const [sx, sy] = scale();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const area = silhouette();
    // Outline: the silhouette spread by 2 px in dark, then 1 px in white, then the tint inside.
    const dark = coloured(area, "rgba(0,0,0,0.85)");
    const light = coloured(area, "#ffffff");
    for (const [dx, dy] of [[-2, 0], [2, 0], [0, -2], [0, 2], [-1, -1], [1, 1], [-1, 1], [1, -1]]) ctx.drawImage(dark, dx, dy);
    for (const [dx, dy] of [[-1, 0], [1, 0], [0, -1], [0, 1]]) ctx.drawImage(light, dx, dy);
    ctx.save();
    ctx.globalCompositeOperation = "destination-out";
    ctx.drawImage(area, 0, 0);
    ctx.restore();
    ctx.globalAlpha = 0.5;
    ctx.drawImage(coloured(area, TINT), 0, 0);
    ctx.globalAlpha = 1;
    ctx.lineWidth = 1.5;
    if (drag && drag.rect) {
      ctx.strokeStyle = "#000"; ctx.setLineDash([5, 4]);
      ctx.strokeRect(drag.x * sx, drag.y * sy, drag.w * sx, drag.h * sy);
      ctx.strokeStyle = "#fff"; ctx.lineDashOffset = 4.5;
      ctx.strokeRect(drag.x * sx, drag.y * sy, drag.w * sx, drag.h * sy);
      ctx.setLineDash([]); ctx.lineDashOffset = 0;
    }
    if (pending.length) {
      for (const [colour, w] of [["#000", 3], [TINT, 1.5]]) {
        ctx.strokeStyle = colour; ctx.lineWidth = w; ctx.beginPath();
        pending.forEach(([x, y], i) => (i ? ctx.lineTo(x * sx, y * sy) : ctx.moveTo(x * sx, y * sy)));
        if (hover) ctx.lineTo(hover[0] * sx, hover[1] * sy);
        ctx.stroke();
      }
      const [fx, fy] = pending[0];
      ctx.fillStyle = "#fff"; ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.arc(fx * sx, fy * sy, 5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    }
    const mode = model.get("mode");
    if (hover && (mode === "brush" || mode === "erase")) {
      const r = (model.get("brush") / 2) * sx;
      for (const [colour, w] of [["#000", 3], ["#fff", 1.5]]) {
        ctx.strokeStyle = colour; ctx.lineWidth = w; ctx.beginPath();
        ctx.arc(hover[0] * sx, hover[1] * sy, Math.max(2, r), 0, 2 * Math.PI); ctx.stroke();
      }
    }
    for (const button of buttons) button.style.fontWeight = button.dataset.mode === mode ? "bold" : "normal";
    undoButton.disabled = !history.length && !pending.length;
    const count = model.get("regions").length;
    status.textContent = `${width()}×${height()} px · ${count} shape${count === 1 ? "" : "s"}` +
      (mode === "polygon" ? " · click points, double-click or click the first point to close" : "");
  }

  function dab(from, to) {
    const erasing = model.get("mode") === "erase";
    // Paint on one layer, and take the same stroke off the other: the latest action wins.
    const [paint, unpaint] = erasing ? [eraseCtx, strokeCtx] : [strokeCtx, eraseCtx];
    for (const [c, op] of [[paint, "source-over"], [unpaint, "destination-out"]]) {
      c.globalCompositeOperation = op;
      c.strokeStyle = "#ffffff";
      c.lineCap = "round";
      c.lineWidth = model.get("brush");
      c.beginPath(); c.moveTo(...from); c.lineTo(...to); c.stroke();
    }
  }

  function saveLayers() {
    model.set("painted", strokes.toDataURL("image/png"));
    model.set("erased", erased.toDataURL("image/png"));
    model.save_changes();
  }

  function addShape(shape) {
    snapshot();
    // A new shape wins over earlier erasing inside it.
    eraseCtx.globalCompositeOperation = "destination-out";
    eraseCtx.fillStyle = "#000";
    shapePath(eraseCtx, shape, 1, 1);
    eraseCtx.fill();
    model.set("regions", [...model.get("regions"), shape]);
    model.set("erased", erased.toDataURL("image/png"));
    model.save_changes();
  }

  function closePolygon() {
    // Drop repeats (a double-click lands the same point twice): no triple point at the end.
    const points = [];
    for (const [x, y] of pending.map(([x, y]) => [Math.round(x), Math.round(y)])) {
      const last = points[points.length - 1];
      if (!last || Math.abs(last[0] - x) > 1 || Math.abs(last[1] - y) > 1) points.push([x, y]);
    }
    const first = points[0];
    while (points.length > 1) {
      const last = points[points.length - 1];
      if (Math.abs(last[0] - first[0]) <= 1 && Math.abs(last[1] - first[1]) <= 1) points.pop();
      else break;
    }
    pending = [];
    if (points.length >= 3) addShape({ points });
    redraw();
  }

  canvas.addEventListener("pointerdown", (event) => {
    const point = toImage(event);
    const mode = model.get("mode");
    canvas.setPointerCapture(event.pointerId);
    canvas.focus({ preventScroll: true });
    if (mode === "rect") drag = { rect: true, x0: point[0], y0: point[1], x: point[0], y: point[1], w: 0, h: 0 };
    else if (mode === "polygon") {
      if (event.detail >= 2) return; // the second click of a double-click: the dblclick closes
      if (pending.length >= 3) {
        const [sx, sy] = scale();
        const [fx, fy] = pending[0];
        if (Math.hypot((point[0] - fx) * sx, (point[1] - fy) * sy) <= CLOSE_PX) { closePolygon(); return; }
      }
      pending.push(point); redraw();
    } else { snapshot(); drag = { last: point }; dab(point, point); redraw(); }
  });
  canvas.addEventListener("pointermove", (event) => {
    const point = toImage(event);
    hover = point;
    if (!drag) { redraw(); return; }
    if (drag.rect) {
      drag.x = Math.min(drag.x0, point[0]); drag.y = Math.min(drag.y0, point[1]);
      drag.w = Math.abs(point[0] - drag.x0); drag.h = Math.abs(point[1] - drag.y0);
    } else { dab(drag.last, point); drag.last = point; }
    redraw();
  });
  canvas.addEventListener("pointerleave", () => { hover = null; redraw(); });
  canvas.addEventListener("pointerup", () => {
    if (drag && drag.rect && drag.w >= 1 && drag.h >= 1) {
      addShape({ x: Math.round(drag.x), y: Math.round(drag.y), w: Math.round(drag.w), h: Math.round(drag.h) });
    } else if (drag && !drag.rect) saveLayers();
    drag = null; redraw();
  });
  canvas.addEventListener("dblclick", (event) => {
    event.preventDefault();
    if (model.get("mode") !== "polygon") return;
    closePolygon();
  });
  canvas.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") { event.preventDefault(); event.stopPropagation(); undo(); }
    else if (event.key === "Enter" && pending.length) { event.preventDefault(); closePolygon(); }
    else if (event.key === "Escape" && pending.length) { event.preventDefault(); pending = []; redraw(); }
  });

  picture.addEventListener("load", redraw);
  model.on("change:regions", redraw);
  model.on("change:mode", redraw);
  model.on("change:brush", redraw);
  model.on("change:painted", () => { if (!model.get("painted")) { strokeCtx.clearRect(0, 0, strokes.width, strokes.height); redraw(); } });
  model.on("change:erased", () => { if (!model.get("erased")) { eraseCtx.clearRect(0, 0, erased.width, erased.height); redraw(); } });
  model.on("change:preview", () => { picture.src = model.get("preview"); resetLayers(); });
  resetLayers();
  redraw();
}

export default { render };
