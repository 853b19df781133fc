// Download buttons for a run's full images (anywidget). The bytes are not in the widget state
// (they would land in the saved notebook): a click asks the kernel, which answers with the file
// as a binary buffer, and the browser saves it from a Blob URL.

function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "wb-downloads";
  el.append(box);
  const waiting = new Map();

  function draw() {
    box.replaceChildren();
    model.get("files").forEach((file, index) => {
      const button = document.createElement("button");
      button.className = "wb-download";
      button.textContent = `⬇ Download ${file.name}`;
      button.title = `${file.name} · ${(file.bytes / 1024).toFixed(0)} kB`;
      button.onclick = () => {
        button.disabled = true;
        waiting.set(index, button);
        model.send({ type: "get", index });
      };
      box.append(button);
    });
  }

  function onMessage(message, buffers) {
    if (!message || message.type !== "file") return;
    const button = waiting.get(message.index);
    waiting.delete(message.index);
    if (button) button.disabled = false;
    if (message.error) {
      if (button) button.title = message.error;
      return;
    }
    const blob = new Blob([buffers[0]], { type: message.mime });
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = message.name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  model.on("change:files", draw);
  model.on("msg:custom", onMessage);
  draw();
  return () => {
    model.off("change:files", draw);
    model.off("msg:custom", onMessage);
  };
}

export default { render };
