/* The file manager page: uploads with progress, drag and drop, and a list that updates in place.
   Everything here enhances plain HTML that works without it (forms, links, a confirm page).
   No inline scripts or styles anywhere: the Content-Security-Policy forbids them. */
(function () {
  "use strict";

  const MAX_PARALLEL = 3;
  const REFRESH_DELAY_MS = 250;
  const FILTER_DELAY_MS = 250;
  const UNITS = ["KiB", "MiB", "GiB", "TiB"];

  const form = document.getElementById("upload-form");
  const listing = document.getElementById("listing");
  if (!form || !listing) {
    return;
  }
  const csrfToken = form.elements.namedItem("csrf_token").value;
  const panel = document.getElementById("upload-panel");
  const queue = document.getElementById("upload-queue");
  const summary = document.getElementById("upload-summary");
  const clearButton = document.getElementById("clear-finished");
  const uploadStatus = document.getElementById("upload-status");
  const listingStatus = document.getElementById("listing-status");
  const dropZone = document.getElementById("drop-zone");
  const fileInput = document.getElementById("file");
  const folderInput = document.getElementById("folder");
  const filterForm = document.getElementById("filter-form");
  const filterInput = document.getElementById("filter");
  const deleteModalElement = document.getElementById("delete-modal");
  const deleteModal = bootstrap.Modal.getOrCreateInstance(deleteModalElement);

  /* ---------- small helpers ---------- */

  function humanSize(bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    let value = bytes;
    for (const unit of UNITS) {
      value /= 1024;
      if (value < 1024 || unit === UNITS[UNITS.length - 1]) {
        return value.toFixed(1) + " " + unit;
      }
    }
    return bytes + " B";
  }

  function duration(seconds) {
    if (!Number.isFinite(seconds)) {
      return "";
    }
    if (seconds < 60) {
      return Math.max(1, Math.round(seconds)) + " s";
    }
    if (seconds < 3600) {
      return Math.round(seconds / 60) + " min";
    }
    return (seconds / 3600).toFixed(1) + " h";
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function icon(name) {
    const node = element("i", "bi " + name);
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  function announce(region, message) {
    // Clearing first makes screen readers repeat a message identical to the last one.
    region.textContent = "";
    window.setTimeout(function () { region.textContent = message; }, 50);
  }

  /* ---------- the file list ---------- */

  const view = new URLSearchParams(window.location.search);
  let listingRequest = 0;

  function enhance(root) {
    root.querySelectorAll('[data-bs-toggle="tooltip"]').forEach(function (node) {
      bootstrap.Tooltip.getOrCreateInstance(node);
    });
    root.querySelectorAll("time[datetime]").forEach(function (node) {
      const when = new Date(node.dateTime);
      if (!Number.isNaN(when.getTime())) {
        node.title = when.toLocaleString(undefined, { dateStyle: "full", timeStyle: "long" });
      }
    });
  }

  function disposeTooltips(root) {
    root.querySelectorAll('[data-bs-toggle="tooltip"]').forEach(function (node) {
      const tooltip = bootstrap.Tooltip.getInstance(node);
      if (tooltip) {
        tooltip.dispose();
      }
    });
  }

  function listingUrl(extra) {
    const url = new URL(listing.dataset.listingUrl, window.location.href);
    for (const name of ["order", "q"]) {
      if (view.get(name)) {
        url.searchParams.set(name, view.get(name));
      }
    }
    for (const [name, value] of Object.entries(extra || {})) {
      url.searchParams.set(name, value);
    }
    return url;
  }

  async function fetchListing(extra) {
    const response = await fetch(listingUrl(extra), {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    });
    if (response.redirected && new URL(response.url).pathname.startsWith("/auth/")) {
      window.location.assign(response.url); // the session ended: log in again
      throw new Error("logged out");
    }
    if (!response.ok) {
      throw new Error("The list could not be loaded (" + response.status + ").");
    }
    const template = document.createElement("template");
    template.innerHTML = await response.text();
    return template.content;
  }

  async function refreshListing(focusSelector) {
    const request = ++listingRequest;
    let fragment;
    try {
      fragment = await fetchListing();
    } catch (error) {
      announce(listingStatus, error.message);
      return;
    }
    if (request !== listingRequest) {
      return; // a newer refresh is on its way
    }
    disposeTooltips(listing);
    listing.replaceChildren(fragment);
    enhance(listing);
    const query = view.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    const count = listing.querySelector("[data-total]");
    announce(listingStatus, count ? count.textContent.trim() : "No files to show.");
    if (focusSelector) {
      const target = listing.querySelector(focusSelector);
      if (target) {
        target.focus();
      }
    }
  }

  let refreshTimer = 0;
  function scheduleRefresh() {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(function () { refreshListing(); }, REFRESH_DELAY_MS);
  }

  async function loadMore(link) {
    const cursor = new URL(link.href).searchParams.get("cursor");
    link.classList.add("disabled");
    link.setAttribute("aria-disabled", "true");
    let fragment;
    try {
      fragment = await fetchListing({ cursor: cursor });
    } catch (error) {
      link.classList.remove("disabled");
      link.removeAttribute("aria-disabled");
      announce(listingStatus, error.message);
      return;
    }
    const rows = Array.from(fragment.querySelectorAll("#file-rows > tr"));
    const tbody = listing.querySelector("#file-rows");
    rows.forEach(function (row) { tbody.appendChild(row); });
    enhance(tbody);
    const footer = listing.querySelector("#listing-footer");
    const newFooter = fragment.querySelector("#listing-footer");
    if (footer && newFooter) {
      newFooter.querySelectorAll("a:not([data-load-more])").forEach(function (a) { a.remove(); });
      footer.replaceWith(newFooter);
    }
    announce(listingStatus, rows.length + " more files shown.");
    const firstNew = rows.length ? rows[0].querySelector("a") : null;
    if (firstNew) {
      firstNew.focus();
    }
  }

  listing.addEventListener("click", function (event) {
    const sort = event.target.closest("a.sort-link");
    if (sort) {
      event.preventDefault();
      view.set("order", sort.dataset.order);
      refreshListing('a.sort-link[data-column="' + sort.dataset.column + '"]');
      return;
    }
    const more = event.target.closest("a[data-load-more]");
    if (more) {
      event.preventDefault();
      loadMore(more);
      return;
    }
    const clear = event.target.closest("a[data-clear-filter]");
    if (clear) {
      event.preventDefault();
      filterInput.value = "";
      view.delete("q");
      refreshListing();
      filterInput.focus();
      return;
    }
    const remove = event.target.closest('a[data-action="delete"]');
    if (remove) {
      event.preventDefault();
      document.getElementById("delete-form").action = remove.dataset.deleteUrl;
      document.getElementById("delete-name").textContent = remove.dataset.fileName;
      deleteModal.show(remove);
    }
  });

  let deleteTrigger = null;
  deleteModalElement.addEventListener("show.bs.modal", function (event) {
    deleteTrigger = event.relatedTarget;
  });
  deleteModalElement.addEventListener("shown.bs.modal", function () {
    deleteModalElement.querySelector('[data-bs-dismiss="modal"].btn').focus();
  });
  deleteModalElement.addEventListener("hidden.bs.modal", function () {
    if (deleteTrigger && deleteTrigger.isConnected) {
      deleteTrigger.focus(); // back where the keyboard user was
    }
  });

  let filterTimer = 0;
  function applyFilter() {
    window.clearTimeout(filterTimer);
    const text = filterInput.value.trim();
    if (text === (view.get("q") || "")) {
      return;
    }
    if (text) {
      view.set("q", text);
    } else {
      view.delete("q");
    }
    refreshListing();
  }
  filterInput.addEventListener("input", function () {
    window.clearTimeout(filterTimer);
    filterTimer = window.setTimeout(applyFilter, FILTER_DELAY_MS);
  });
  filterForm.addEventListener("submit", function (event) {
    event.preventDefault();
    applyFilter();
  });

  /* ---------- uploads ---------- */

  const uploads = [];
  let running = 0;

  function addFiles(files) {
    if (!files.length) {
      return;
    }
    panel.hidden = false;
    for (const file of files) {
      const upload = createUpload(file);
      uploads.push(upload);
      queue.appendChild(upload.row);
      if (file.size > Number(form.dataset.maxBytes)) {
        finish(upload, "error",
          "Too large: " + humanSize(file.size) + "; this server accepts up to " +
          form.dataset.maxSize + " per file.");
      }
    }
    announce(uploadStatus, files.length === 1 ? "1 file added to the uploads."
      : files.length + " files added to the uploads.");
    pump();
  }

  function createUpload(file) {
    const label = file.webkitRelativePath || file.name;
    const row = element("li", "list-group-item upload-item");
    row.dataset.state = "queued";
    const line = element("div", "d-flex align-items-center gap-3");
    const body = element("div", "flex-grow-1 upload-name");
    const top = element("div", "d-flex justify-content-between gap-2 small");
    const name = element("span", "text-truncate fw-semibold upload-filename", label);
    name.title = label;
    top.append(name, element("span", "text-body-secondary text-nowrap", humanSize(file.size)));
    const progress = element("div", "progress mt-1");
    progress.setAttribute("role", "progressbar");
    progress.setAttribute("aria-label", "Upload of " + label);
    progress.setAttribute("aria-valuemin", "0");
    progress.setAttribute("aria-valuemax", "100");
    progress.setAttribute("aria-valuenow", "0");
    const bar = element("div", "progress-bar");
    progress.appendChild(bar);
    const detail = element("div", "small mt-1 text-body-secondary upload-detail", "Waiting…");
    body.append(top, progress, detail);
    const button = element("button", "btn btn-sm btn-outline-secondary upload-cancel");
    button.type = "button";
    button.setAttribute("aria-label", "Cancel the upload of " + label);
    button.appendChild(icon("bi-x-lg"));
    line.append(icon("bi-file-earmark-arrow-up file-icon"), body, button);
    row.appendChild(line);
    const upload = { file: file, label: label, row: row, bar: bar, progress: progress,
      detail: detail, button: button, state: "queued", xhr: null };
    button.addEventListener("click", function () { cancelOrDismiss(upload); });
    return upload;
  }

  function setProgress(upload, percent) {
    upload.bar.style.width = percent + "%"; // CSSOM, which the CSP allows (attributes it would not)
    upload.progress.setAttribute("aria-valuenow", String(percent));
  }

  function pump() {
    while (running < MAX_PARALLEL) {
      const next = uploads.find(function (u) { return u.state === "queued"; });
      if (!next) {
        break;
      }
      start(next);
    }
    updateSummary();
  }

  function start(upload) {
    upload.state = "uploading";
    upload.row.dataset.state = "uploading";
    running += 1;
    const started = performance.now();
    let lastTime = started;
    let lastLoaded = 0;
    let speed = 0;
    const xhr = new XMLHttpRequest();
    upload.xhr = xhr;
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    upload.detail.textContent = "Starting…";
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable || !event.total) {
        return;
      }
      const now = performance.now();
      const seconds = (now - lastTime) / 1000;
      if (seconds > 0.2) {
        const current = (event.loaded - lastLoaded) / seconds;
        speed = speed ? speed * 0.7 + current * 0.3 : current; // smoothed
        lastTime = now;
        lastLoaded = event.loaded;
      }
      const percent = Math.min(100, Math.floor((event.loaded / event.total) * 100));
      setProgress(upload, percent);
      const parts = [percent + "%"];
      if (speed > 0) {
        parts.push(humanSize(speed) + "/s");
        if (event.loaded < event.total) {
          parts.push(duration((event.total - event.loaded) / speed) + " left");
        }
      }
      if (event.loaded >= event.total) {
        parts.push("saving…");
      }
      upload.detail.textContent = parts.join(" · ");
    });
    xhr.addEventListener("load", function () {
      onAnswer(upload, xhr, (performance.now() - started) / 1000);
    });
    xhr.addEventListener("error", function () {
      finish(upload, "error",
        "The upload did not reach the server. Check your connection and try again.");
    });
    xhr.addEventListener("abort", function () { finish(upload, "cancelled", "Cancelled."); });
    const body = new FormData();
    body.append("csrf_token", csrfToken);
    body.append("file", upload.file, upload.file.name);
    xhr.send(body);
  }

  function onAnswer(upload, xhr, seconds) {
    const answer = xhr.response || {};
    if (xhr.responseURL && new URL(xhr.responseURL).pathname.startsWith("/auth/")) {
      finish(upload, "error", "Your session has ended. Log in again, then retry this file.");
      return;
    }
    const stored = (answer.files || [])[0];
    if (xhr.status >= 200 && xhr.status < 300 && stored) {
      const renamed = stored.name !== upload.file.name ? " as “" + stored.name + "”" : "";
      const rate = seconds >= 1 ? " · " + humanSize(upload.file.size / seconds) + "/s" : "";
      finish(upload, "done", "100% · Uploaded" + renamed + rate);
      scheduleRefresh();
      return;
    }
    finish(upload, "error", errorMessage(xhr.status, answer));
  }

  function errorMessage(status, answer) {
    const refused = (answer.errors || [])[0] || answer.error;
    if (refused && refused.message) {
      return refused.message;
    }
    if (status === 413) {
      return "Too large: this server accepts up to " + form.dataset.maxSize + " per file.";
    }
    if (status === 400) {
      return "The page has expired. Reload it and try again.";
    }
    return "The server could not store this file (error " + status + "). Try again later.";
  }

  function finish(upload, state, message) {
    if (upload.state === "uploading") {
      running -= 1;
    }
    upload.state = state;
    upload.row.dataset.state = state;
    upload.xhr = null;
    upload.detail.textContent = message;
    upload.detail.className = "small mt-1 upload-detail " +
      (state === "error" ? "text-danger-emphasis" : state === "done" ? "text-success-emphasis"
        : "text-body-secondary");
    upload.bar.classList.add(state === "done" ? "bg-success" : state === "error" ? "bg-danger"
      : "bg-secondary");
    if (state === "done") {
      setProgress(upload, 100);
    }
    if (state === "done") {
      upload.detail.prepend(icon("bi-check-circle-fill me-1"));
    } else if (state === "error") {
      upload.detail.prepend(icon("bi-exclamation-circle-fill me-1"));
      announce(uploadStatus, upload.label + ": " + message);
    }
    upload.button.setAttribute("aria-label", "Remove " + upload.label + " from this list");
    pump();
    if (!uploads.some(function (u) { return u.state === "queued" || u.state === "uploading"; })) {
      announceTotals();
    }
  }

  function cancelOrDismiss(upload) {
    if (upload.state === "uploading") {
      upload.xhr.abort();
    } else if (upload.state === "queued") {
      finish(upload, "cancelled", "Cancelled.");
    } else {
      dismiss(upload);
    }
  }

  function dismiss(upload) {
    const index = uploads.indexOf(upload);
    const neighbour = uploads[index + 1] || uploads[index - 1];
    uploads.splice(index, 1);
    upload.row.remove();
    if (neighbour) {
      neighbour.button.focus();
    } else {
      panel.hidden = true;
      document.querySelector('[data-pick="file"]').focus();
    }
    updateSummary();
  }

  function count(state) {
    return uploads.filter(function (u) { return u.state === state; }).length;
  }

  function updateSummary() {
    const parts = [];
    const active = count("queued") + count("uploading");
    if (active) {
      parts.push(active + " in progress");
    }
    if (count("done")) {
      parts.push(count("done") + " done");
    }
    if (count("error")) {
      parts.push(count("error") + " failed");
    }
    summary.textContent = parts.length ? "(" + parts.join(", ") + ")" : "";
    clearButton.hidden = uploads.length === active;
  }

  function announceTotals() {
    const done = count("done");
    const failed = count("error");
    let message = done === 1 ? "1 file uploaded." : done + " files uploaded.";
    if (failed) {
      message += failed === 1 ? " 1 file failed." : " " + failed + " files failed.";
    }
    announce(uploadStatus, "Uploads finished. " + message);
  }

  clearButton.addEventListener("click", function () {
    uploads.filter(function (u) { return u.state !== "queued" && u.state !== "uploading"; })
      .forEach(function (u) {
        uploads.splice(uploads.indexOf(u), 1);
        u.row.remove();
      });
    panel.hidden = uploads.length === 0;
    updateSummary();
    document.querySelector('[data-pick="file"]').focus();
  });

  window.addEventListener("beforeunload", function (event) {
    if (running > 0) {
      event.preventDefault();
    }
  });

  /* ---------- choosing and dropping files ---------- */

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    addFiles(Array.from(fileInput.files));
    fileInput.value = "";
  });

  document.querySelector('[data-pick="file"]').addEventListener("click", function () {
    fileInput.click();
  });
  const folderButton = document.querySelector('[data-pick="folder"]');
  if ("webkitdirectory" in folderInput) {
    folderButton.hidden = false;
    folderButton.addEventListener("click", function () { folderInput.click(); });
  }
  for (const input of [fileInput, folderInput]) {
    input.addEventListener("change", function () {
      addFiles(Array.from(input.files));
      input.value = ""; // choosing the same file again must fire `change` again
    });
  }

  function carriesFiles(event) {
    return event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
  }

  function readEntries(reader) {
    return new Promise(function (resolve, reject) { reader.readEntries(resolve, reject); });
  }

  async function collect(entry, files) {
    if (entry.isFile) {
      files.push(await new Promise(function (resolve, reject) { entry.file(resolve, reject); }));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      let batch;
      do {
        batch = await readEntries(reader); // at most 100 entries a call
        for (const child of batch) {
          await collect(child, files);
        }
      } while (batch.length);
    }
  }

  async function droppedFiles(dataTransfer) {
    // Both lists must be read now: the DataTransfer is emptied once the drop handler returns.
    const plain = Array.from(dataTransfer.files);
    const entries = Array.from(dataTransfer.items || [])
      .filter(function (item) { return item.kind === "file"; })
      .map(function (item) { return item.webkitGetAsEntry ? item.webkitGetAsEntry() : null; });
    if (!entries.length || !entries.every(Boolean) || !entries.some(function (e) { return e.isDirectory; })) {
      return plain;
    }
    const files = [];
    try {
      for (const entry of entries) {
        await collect(entry, files);
      }
    } catch (error) {
      return plain;
    }
    return files;
  }

  // The whole page accepts a drop, so a near miss never makes the browser open the file.
  document.addEventListener("dragover", function (event) {
    if (carriesFiles(event)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      dropZone.classList.add("dragging");
    }
  });
  document.addEventListener("dragleave", function (event) {
    if (!event.relatedTarget) {
      dropZone.classList.remove("dragging");
    }
  });
  document.addEventListener("drop", async function (event) {
    if (!carriesFiles(event)) {
      return;
    }
    event.preventDefault();
    dropZone.classList.remove("dragging");
    addFiles(await droppedFiles(event.dataTransfer));
  });

  enhance(document);
})();
