// The gallery's front end (anywidget): filters, a grid of thumbnails, click to select,
// a side-by-side comparison of two or more selected runs, and "open full size".
// State lives in the model's synced traits: runs, filters, selected, full_image.

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

const credits = (n) => `${n} credit${n === 1 ? "" : "s"}`;

// The OCR text accuracy as the static HTML shows it: rounded down, so 100 % means exact.
function textScore(accuracy) {
  if (accuracy === null || accuracy === undefined) return null;
  const percent = Math.floor(accuracy * 100 + 1e-9);
  const grade = accuracy >= 0.98 ? "good" : accuracy >= 0.9 ? "fair" : "poor";
  return h("span", { class: `wb-text-score wb-text-${grade}` }, `text ${percent} %`);
}

function visible(runs, filters) {
  return runs.filter((run) =>
    FILTERS.every(([key]) => !filters[key] || (run[key] || "") === filters[key]),
  );
}

function render({ model, el }) {
  const root = h("div", { class: "wb-gallery" });
  el.append(root);

  function setFilter(key, value) {
    const filters = { ...model.get("filters") };
    if (value) filters[key] = value;
    else delete filters[key];
    model.set("filters", filters);
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
      h("button", { class: "wb-refresh", onclick: () => model.send({ type: "refresh" }) }, "Refresh"),
    );
    return bar;
  }

  function card(run, selected, thumb) {
    const picture = thumb
      ? h("img", { src: thumb, alt: run.prompt, loading: "lazy" })
      : h("div", { class: "wb-noimage" }, run.status === "ok" ? "no image" : run.status);
    return h(
      "div",
      {
        class: `wb-card wb-${run.status}${selected ? " wb-selected" : ""}`,
        "data-run": run.id,
        title: run.prompt,
        onclick: () => toggle(run.id),
      },
      picture,
      h(
        "div",
        { class: "wb-caption" },
        h("b", {}, run.status),
        ` · ${run.preset || "no preset"}`,
        h("br"),
        `${run.size} · ${credits(run.credits)}`,
        run.text_accuracy == null ? null : [" · ", textScore(run.text_accuracy)],
      ),
      run.image
        ? h(
            "button",
            {
              class: "wb-open",
              onclick: (e) => {
                e.stopPropagation();
                openFull(run.id);
              },
            },
            "Full size",
          )
        : null,
    );
  }

  function compare(runs, selected, thumbs) {
    const picked = selected.map((id) => runs.find((r) => r.id === id)).filter(Boolean);
    if (picked.length < 2) {
      return h("div", { class: "wb-hint" }, "Click two or more thumbnails to compare them side by side.");
    }
    return h(
      "div",
      { class: "wb-compare" },
      h("div", { class: "wb-compare-title" }, `Comparing ${picked.length} runs`,
        h("button", { onclick: () => { model.set("selected", []); model.save_changes(); } }, "Clear")),
      h(
        "div",
        { class: "wb-compare-row" },
        picked.map((run) =>
          h(
            "div",
            { class: "wb-compare-col" },
            thumbs[run.id] ? h("img", { src: thumbs[run.id], alt: run.prompt }) : null,
            h("div", { class: "wb-prompt" }, run.prompt),
            h(
              "table",
              {},
              [
                ["status", run.status],
                ["preset", run.preset || "—"],
                ["backend", `${run.backend}/${run.model || ""}`],
                ["quality", run.quality],
                ["size", run.size],
                ["credits", run.credits],
                ["dollars", `$${Number(run.usd || 0).toFixed(4)}`],
                ["latency", run.latency_ms == null ? "—" : `${(run.latency_ms / 1000).toFixed(2)} s`],
                ["text", run.text_accuracy == null ? "not checked" : textScore(run.text_accuracy)],
                ["batch", run.batch_id || "—"],
                ["when", run.created_at],
                ["run", run.id.slice(0, 8)],
              ].map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))),
            ),
          ),
        ),
      ),
    );
  }

  function overlay(full) {
    if (!full || !full.id) return null;
    const close = () => {
      model.set("full_image", {});
      model.save_changes();
    };
    const body = full.src
      ? h("img", { src: full.src, alt: full.id })
      : h("div", { class: "wb-loading" }, full.error || "Loading…");
    return h(
      "div",
      { class: "wb-overlay", onclick: close },
      h("div", { class: "wb-overlay-bar" }, `${full.size || ""} · run ${full.id.slice(0, 8)} · click to close`),
      body,
    );
  }

  function draw() {
    const runs = model.get("runs");
    const filters = model.get("filters");
    const selected = model.get("selected");
    const shown = visible(runs, filters);
    const thumbs = model.get("thumbs");
    const selectedSet = new Set(selected);
    // Thumbnails travel only on request: ask for the ones this view shows and lacks.
    const missing = shown.filter((r) => r.image && !thumbs[r.id]).map((r) => r.id);
    if (missing.length && !requested.has(missing.join())) {
      requested.add(missing.join());
      model.send({ type: "thumbs", ids: missing });
    }
    const parts = [
      filterBar(runs, filters),
      h("div", { class: "wb-count" }, `${shown.length} of ${model.get("total")} runs`),
      h("div", { class: "wb-grid" }, shown.map((run) => card(run, selectedSet.has(run.id), thumbs[run.id]))),
      compare(runs, selected, thumbs),
      overlay(model.get("full_image")),
    ];
    root.replaceChildren(...parts.filter(Boolean));
  }

  const requested = new Set();
  const events = ["change:runs", "change:filters", "change:selected", "change:full_image", "change:total",
    "change:thumbs"];
  for (const name of events) model.on(name, draw);
  draw();
  return () => {
    for (const name of events) model.off(name, draw);
  };
}

export default { render };
