// Small enhancements; every page works without them.
function enhance(root) {
  // "select all" checkboxes
  root.querySelectorAll("[data-select-all]").forEach((box) => {
    box.addEventListener("change", () => {
      box.form.querySelectorAll(`input[name="${box.dataset.selectAll}"]`).forEach((c) => { c.checked = box.checked; });
    });
  });
  // a JPG's preview before upload, and its size checked (≤ 2 MB)
  root.querySelectorAll("input[type=file][data-preview]").forEach((input) => {
    input.addEventListener("change", () => {
      const img = document.getElementById(input.dataset.preview);
      const note = document.getElementById("proof-note");
      const file = input.files[0];
      input.setCustomValidity("");
      if (!file) { img.hidden = true; return; }
      if (file.size > Number(input.dataset.maxBytes)) {
        input.setCustomValidity("证明材料不能超过 2 MB (the proof must be at most 2 MB)");
      }
      img.src = URL.createObjectURL(file);
      img.hidden = false;
      if (note) note.textContent = `${file.name} · ${(file.size / 1024).toFixed(0)} KB`;
    });
  });
  // uploads show their progress, then the page the server answers with
  root.querySelectorAll("form[data-progress]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.XMLHttpRequest || !form.checkValidity()) return;
      event.preventDefault();
      const bar = form.querySelector("progress");
      const button = form.querySelector("button[type=submit]");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable && bar) { bar.hidden = false; bar.value = Math.round((100 * e.loaded) / e.total); }
      });
      xhr.addEventListener("load", () => {
        // the answer (after any redirect) replaces the page, as a normal submit would
        const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        document.title = doc.title;
        document.body.replaceWith(document.adoptNode(doc.body));
        if (xhr.responseURL) history.pushState(null, "", xhr.responseURL);
        enhance(document);
      });
      xhr.addEventListener("error", () => { button.disabled = false; if (bar) bar.hidden = true; });
      button.disabled = true;
      if (bar) { bar.hidden = false; bar.removeAttribute("value"); }
      xhr.send(new FormData(form));
    });
  });
}

document.addEventListener("DOMContentLoaded", () => enhance(document));

// live panels: the page itself is fetched again and the panel swapped (no separate rendering in JS)
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach((panel) => {
    setInterval(async () => {
      const resp = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (!resp.ok) return;
      const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
      const fresh = doc.querySelector("[data-live]");
      if (fresh) panel.replaceChildren(...fresh.childNodes);
    }, Number(panel.dataset.every || 5000));
  });
});
