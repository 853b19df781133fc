// The gallery's front end (anywidget): filters, a grid of thumbnails, click to select,
// a side-by-side comparison of two or more selected runs (512 px images, one aligned table,
// differences highlighted), and a full-size view inside the widget (Escape or ✕ closes it).
// State lives in the model's synced traits: runs, filters, selected, thumbs, large, full_image.

const FILTERS = [
  ["batch_id", "Batch"],
  ["preset", "Preset"],
  ["status", "Status"],
];

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Credits have at most two decimals (2, 0.59, 12.5), as the Python side prints them.
const credits = (n) => `${Number((Number(n) || 0).toFixed(2))} credit${n === 1 ? "" : "s"}`;

// The OCR text accuracy as the static HTML shows it: rounded down, so 100 % means exact.
function textScore(accuracy) {
  if (accuracy === null || accuracy === undefined) return null;
  const percent = Math.floor(accuracy * 100 + 1e-9);
  const grade = accuracy >= 0.98 ? "good" : accuracy >= 0.9 ? "fair" : "poor";
  return h("span", { class: `wb-text-score wb-text-${grade}` }, `text ${percent} %`);
}

// The checks' scores (workbench.checks): "palette 0.95 · contrast 1.00".
const scoreText = (scores) =>
  Object.entries(scores || {})
    .map(([name, score]) => `${name} ${Number(score).toFixed(2)}`)
    .join(" · ");

function visible(runs, filters) {
  return runs.filter((run) =>
    FILTERS.every(([key]) => !filters[key] || (run[key] || "") === filters[key]),
  );
}

const factorText = (run) =>
  Object.entries(run.factors || {})
    .map(([k, v]) => `${k}: ${v}`)
    .join(" · ");

// The rows of the comparison: a label and, per run, the text compared and what is shown.
const COMPARE_ROWS = [
  ["status", (r) => r.status],
  ["backend", (r) => `${r.backend || ""}/${r.model || ""}`],
  ["preset", (r) => r.preset || "—"],
  ["quality", (r) => r.quality || "—"],
  ["size", (r) => r.size || "—"],
  ["factors", (r) => factorText(r) || "—"],
  ["credits", (r) => String(r.credits)],
  ["dollars", (r) => `$${Number(r.usd || 0).toFixed(4)}`],
  ["latency", (r) => (r.latency_ms == null ? "—" : `${(r.latency_ms / 1000).toFixed(2)} s`)],
  ["text", (r) => (r.text_accuracy == null ? "not checked" : `${Math.floor(r.text_accuracy * 100 + 1e-9)} %`)],
  ["checks", (r) => scoreText(r.scores) || "not checked"],
  ["batch", (r) => r.batch_id || "—"],
  ["prompt", (r) => r.prompt || ""],
  ["when", (r) => r.created_at],
  ["run", (r) => r.id.slice(0, 8)],
];

function render({ model, el }) {
  const root = h("div", { class: "wb-gallery", tabindex: "-1" });
  el.append(root);

  function setFilter(key, value) {
    const filters = { ...model.get("filters") };
    if (value) filters[key] = value;
    else delete filters[key];
    // Selections follow the filters: a run the filter hides is no longer compared.
    const shown = new Set(visible(model.get("runs"), filters).map((r) => r.id));
    model.set("filters", filters);
    model.set("selected", model.get("selected").filter((id) => shown.has(id)));
    model.save_changes();
  }

  function toggle(id) {
    const selected = [...model.get("selected")];
    const at = selected.indexOf(id);
    if (at >= 0) selected.splice(at, 1);
    else selected.push(id);
    model.set("selected", selected);
    model.save_changes();
  }

  function openFull(id) {
    model.set("full_image", { id, loading: true });
    model.send({ type: "open", id });
  }

  function closeFull() {
    model.set("full_image", {});
    model.save_changes();
  }

  function filterBar(runs, filters) {
    const bar = h("div", { class: "wb-filters" });
    for (const [key, label] of FILTERS) {
      const values = [...new Set(runs.map((r) => r[key]).filter(Boolean))].sort();
      const select = h(
        "select",
        { "data-filter": key, onchange: (e) => setFilter(key, e.target.value) },
        h("option", { value: "" }, `${label}: all`),
        values.map((v) => h("option", { value: v }, v)),
      );
      select.value = filters[key] || "";
      bar.append(select);
    }
    bar.append(
      h("button", { class: "wb-refresh", title: "New runs appear by themselves; this reads the log now",
        onclick: () => model.send({ type: "refresh" }) }, "Refresh"),
    );
    return bar;
  }

  function card(run, selected, thumb) {
    const picture = thumb
      ? h("img", { src: thumb, alt: run.prompt, loading: "lazy" })
      : h("div", { class: "wb-noimage" }, run.status === "ok" ? "no image" : run.status);
    const factors = factorText(run);
    return h(
      "div",
      {
        class: `wb-card wb-${run.status}${selected ? " wb-selected" : ""}`,
        "data-run": run.id,
        title: run.prompt,
        onclick: () => toggle(run.id),
      },
      h("div", { class: "wb-picture" }, picture),
      h(
        "div",
        { class: "wb-caption" },
        h("b", {}, run.status),
        ` · ${run.preset || "no preset"}`,
        h("br"),
        h("span", { class: "wb-backend" }, `${run.backend || "?"}${run.model ? "/" + run.model : ""}`),
        h("br"),
        `${run.size} · ${credits(run.credits)}`,
        run.text_accuracy == null ? null : [" · ", textScore(run.text_accuracy)],
        scoreText(run.scores) ? [h("br"), h("span", { class: "wb-scores" }, scoreText(run.scores))] : null,
        factors ? [h("br"), h("span", { class: "wb-factors" }, factors)] : null,
      ),
      // The card's actions sit below the picture, never over it.
      h(
        "div",
        { class: "wb-actions" },
        h("span", { class: "wb-select-hint" }, selected ? "✓ selected" : "click to select"),
        run.image
          ? h(
              "button",
              {
                class: "wb-open",
                title: "Open the full-size image",
                onclick: (e) => {
                  e.stopPropagation();
                  openFull(run.id);
                },
              },
              "Full size",
            )
          : null,
      ),
    );
  }

  function compare(shown, selected, thumbs, large) {
    const picked = selected.map((id) => shown.find((r) => r.id === id)).filter(Boolean);
    if (picked.length < 2) {
      return h("div", { class: "wb-hint" }, "Click two or more thumbnails to compare them side by side.");
    }
    const missing = picked.filter((r) => r.image && !large[r.id]).map((r) => r.id);
    if (missing.length && !requested.has("L" + missing.join())) {
      requested.add("L" + missing.join());
      model.send({ type: "large", ids: missing });
    }
    const imageRow = h(
      "tr",
      { class: "wb-compare-images" },
      h("th", {}, ""),
      picked.map((run) =>
        h(
          "td",
          { class: "wb-compare-col", "data-run": run.id },
          large[run.id] || thumbs[run.id]
            ? h("img", { src: large[run.id] || thumbs[run.id], alt: run.prompt, class: "wb-compare-img",
                onclick: () => openFull(run.id), title: "Open full size" })
            : h("div", { class: "wb-noimage" }, run.status),
        ),
      ),
    );
    const rows = COMPARE_ROWS.map(([label, value]) => {
      const values = picked.map(value);
      const differs = new Set(values).size > 1;
      return h(
        "tr",
        { class: differs ? "wb-differs" : "", "data-row": label },
        h("th", {}, label),
        picked.map((run, i) =>
          h("td", { class: differs ? "wb-diff" : "" },
            label === "text" && run.text_accuracy != null ? textScore(run.text_accuracy) : values[i]),
        ),
      );
    });
    return h(
      "div",
      { class: "wb-compare" },
      h("div", { class: "wb-compare-title" }, `Comparing ${picked.length} runs`,
        h("span", { class: "wb-legend" }, "highlighted rows differ"),
        h("button", { onclick: () => { model.set("selected", []); model.save_changes(); } }, "Clear")),
      h("div", { class: "wb-compare-scroll" }, h("table", { class: "wb-compare-table" }, imageRow, rows)),
    );
  }

  function viewer(full) {
    if (!full || !full.id) return null;
    const body = full.src
      ? h("img", { src: full.src, alt: full.id, class: "wb-full-img" })
      : h("div", { class: "wb-loading" }, full.error || "Loading…");
    return h(
      "div",
      { class: "wb-viewer", role: "dialog", "aria-label": "Full-size image" },
      h(
        "div",
        { class: "wb-viewer-bar" },
        h("span", {}, `${full.size || ""} · run ${full.id.slice(0, 8)} · Escape closes`),
        h("button", { class: "wb-close", title: "Close (Escape)", onclick: closeFull }, "✕ Close"),
      ),
      h("div", { class: "wb-viewer-body" }, body),
    );
  }

  function onKey(event) {
    if (event.key === "Escape" && model.get("full_image") && model.get("full_image").id) {
      event.preventDefault();
      event.stopPropagation();
      closeFull();
    }
  }
  // Capture phase on the document: JupyterLab's own Escape handling (leave edit mode) runs after.
  document.addEventListener("keydown", onKey, true);

  function draw() {
    const runs = model.get("runs");
    const filters = model.get("filters");
    const selected = model.get("selected");
    const shown = visible(runs, filters);
    const thumbs = model.get("thumbs");
    const full = model.get("full_image");
    const selectedSet = new Set(selected);
    // Thumbnails travel only on request: ask for the ones this view shows and lacks.
    const missing = shown.filter((r) => r.image && !thumbs[r.id]).map((r) => r.id);
    if (missing.length && !requested.has(missing.join())) {
      requested.add(missing.join());
      model.send({ type: "thumbs", ids: missing });
    }
    const picked = selected.filter((id) => shown.some((r) => r.id === id)).length;
    const open = viewer(full);
    const parts = [
      filterBar(runs, filters),
      h("div", { class: "wb-count" }, `${shown.length} of ${model.get("total")} runs`,
        picked ? ` · ${picked} selected` : ""),
      open,
      h("div", { class: "wb-grid", style: open ? "display:none" : null },
        shown.map((run) => card(run, selectedSet.has(run.id), thumbs[run.id]))),
      open ? null : compare(shown, selected, thumbs, model.get("large")),
    ];
    root.replaceChildren(...parts.filter(Boolean));
    if (open && !wasOpen) root.scrollIntoView({ block: "start", behavior: "auto" });
    wasOpen = Boolean(open);
  }

  let wasOpen = false;
  const requested = new Set();
  const events = ["change:runs", "change:filters", "change:selected", "change:full_image", "change:total",
    "change:thumbs", "change:large"];
  for (const name of events) model.on(name, draw);
  draw();
  return () => {
    document.removeEventListener("keydown", onKey, true);
    for (const name of events) model.off(name, draw);
  };
}

export default { render };
