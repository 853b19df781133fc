// The mask painter's front end (anywidget): an image with a canvas over it. Brush strokes are
// painted onto an offscreen canvas the size of the image (synced as a PNG data URI in
// `painted`); rectangles and polygons are synced as shapes in image pixels in `regions`.

const MODES = [
  ["brush", "Brush"],
  ["rect", "Rectangle"],
  ["polygon", "Polygon"],
  ["erase", "Erase"],
];

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

function render({ model, el }) {
  const width = () => model.get("width");
  const height = () => model.get("height");

  // Full-size strokes live here; the visible canvas only shows them scaled.
  const strokes = document.createElement("canvas");
  const strokeCtx = strokes.getContext("2d");
  function resetStrokes() {
    strokes.width = width();
    strokes.height = height();
    const uri = model.get("painted");
    if (uri) {
      const img = new Image();
      img.onload = () => { strokeCtx.drawImage(img, 0, 0, strokes.width, strokes.height); redraw(); };
      img.src = uri;
    }
  }

  const picture = h("img", { src: model.get("preview"), draggable: "false",
    style: { display: "block", maxWidth: "100%", userSelect: "none" } });
  const canvas = h("canvas", { style: { position: "absolute", left: "0", top: "0", width: "100%", height: "100%",
    cursor: "crosshair", touchAction: "none" } });
  const stage = h("div", { style: { position: "relative", display: "inline-block" } }, picture, canvas);
  const ctx = canvas.getContext("2d");

  const buttons = MODES.map(([mode, label]) => h("button", { "data-mode": mode, onclick: () => {
    model.set("mode", mode); model.save_changes(); pending = []; redraw();
  } }, label));
  const size = h("input", { type: "range", min: "2", max: "400", value: String(model.get("brush")),
    oninput: (e) => { model.set("brush", Number(e.target.value)); model.save_changes(); } });
  const clear = h("button", { onclick: () => {
    strokeCtx.clearRect(0, 0, strokes.width, strokes.height);
    model.set("regions", []); model.set("painted", ""); model.save_changes(); pending = []; redraw();
  } }, "Clear");
  const status = h("span", { style: { marginLeft: "8px", font: "12px sans-serif" } });
  el.append(h("div", { class: "wb-mask-painter" }, h("div", {}, ...buttons, " brush ", size, clear, status), stage));

  let pending = []; // polygon points being placed
  let drag = null;  // rectangle being dragged, or the last brush point

  function toImage(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * width() / box.width, (event.clientY - box.top) * height() / box.height];
  }

  function redraw() {
    canvas.width = picture.clientWidth || width();
    canvas.height = picture.clientHeight || height();
    const sx = canvas.width / width(), sy = canvas.height / height();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 0.45;
    ctx.drawImage(strokes, 0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#ff2d55";
    for (const region of model.get("regions")) {
      if (region.points) {
        ctx.beginPath();
        region.points.forEach(([x, y], i) => (i ? ctx.lineTo(x * sx, y * sy) : ctx.moveTo(x * sx, y * sy)));
        ctx.closePath(); ctx.fill();
      } else {
        ctx.fillRect(region.x * sx, region.y * sy, region.w * sx, region.h * sy);
      }
    }
    ctx.globalAlpha = 1;
    ctx.strokeStyle = "#ff2d55";
    if (drag && drag.rect) ctx.strokeRect(drag.x * sx, drag.y * sy, drag.w * sx, drag.h * sy);
    if (pending.length) {
      ctx.beginPath();
      pending.forEach(([x, y], i) => (i ? ctx.lineTo(x * sx, y * sy) : ctx.moveTo(x * sx, y * sy)));
      ctx.stroke();
    }
    for (const button of buttons) button.style.fontWeight = button.dataset.mode === model.get("mode") ? "bold" : "normal";
    const count = model.get("regions").length;
    status.textContent = `${width()}×${height()} px · ${count} shape${count === 1 ? "" : "s"}` +
      (model.get("mode") === "polygon" ? " · click points, double-click to close" : "");
  }

  function dab(from, to) {
    strokeCtx.globalCompositeOperation = model.get("mode") === "erase" ? "destination-out" : "source-over";
    strokeCtx.strokeStyle = "#ffffff";
    strokeCtx.lineCap = "round";
    strokeCtx.lineWidth = model.get("brush");
    strokeCtx.beginPath(); strokeCtx.moveTo(...from); strokeCtx.lineTo(...to); strokeCtx.stroke();
  }

  function savePainted() {
    model.set("painted", strokes.toDataURL("image/png"));
    model.save_changes();
  }

  canvas.addEventListener("pointerdown", (event) => {
    const point = toImage(event);
    const mode = model.get("mode");
    canvas.setPointerCapture(event.pointerId);
    if (mode === "rect") drag = { rect: true, x0: point[0], y0: point[1], x: point[0], y: point[1], w: 0, h: 0 };
    else if (mode === "polygon") { pending.push(point); redraw(); }
    else { drag = { last: point }; dab(point, point); redraw(); }
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const point = toImage(event);
    if (drag.rect) {
      drag.x = Math.min(drag.x0, point[0]); drag.y = Math.min(drag.y0, point[1]);
      drag.w = Math.abs(point[0] - drag.x0); drag.h = Math.abs(point[1] - drag.y0);
    } else { dab(drag.last, point); drag.last = point; }
    redraw();
  });
  canvas.addEventListener("pointerup", () => {
    if (drag && drag.rect && drag.w >= 1 && drag.h >= 1) {
      const r = { x: Math.round(drag.x), y: Math.round(drag.y), w: Math.round(drag.w), h: Math.round(drag.h) };
      model.set("regions", [...model.get("regions"), r]); model.save_changes();
    } else if (drag && !drag.rect) savePainted();
    drag = null; redraw();
  });
  canvas.addEventListener("dblclick", () => {
    if (model.get("mode") !== "polygon" || pending.length < 3) return;
    const points = pending.map(([x, y]) => [Math.round(x), Math.round(y)]);
    pending = [];
    model.set("regions", [...model.get("regions"), { points }]); model.save_changes(); redraw();
  });

  picture.addEventListener("load", redraw);
  model.on("change:regions", redraw);
  model.on("change:mode", redraw);
  model.on("change:painted", () => { if (!model.get("painted")) { strokeCtx.clearRect(0, 0, strokes.width, strokes.height); redraw(); } });
  model.on("change:preview", () => { picture.src = model.get("preview"); resetStrokes(); });
  resetStrokes();
  redraw();
}

export default { render };
