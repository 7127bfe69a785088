/* One file's row in the upload list: name, size, progress bar, status line and the
   cancel/remove button. It shows what the queue tells it and decides nothing. */
import { element, icon } from "./dom.js";
import { duration, humanSize } from "./format.js";

// How each way an upload can end looks: status line colour, bar colour, status icon.
const OUTCOMES = {
  done: { text: "text-success-emphasis", bar: "bg-success", icon: "bi-check-circle-fill" },
  error: { text: "text-danger-emphasis", bar: "bg-danger", icon: "bi-exclamation-circle-fill" },
  cancelled: { text: "text-body-secondary", bar: "bg-secondary", icon: null },
};

/* Build a queued row; onButton runs when its button (cancel, later remove) is pressed. */
export function uploadRow(label, size, onButton) {
  const row = element("li", "list-group-item upload-item");
  row.dataset.state = "queued";
  const line = element("div", "d-flex align-items-center gap-3");
  const body = element("div", "flex-grow-1 upload-name");
  const top = element("div", "d-flex justify-content-between gap-2 small");
  const name = element("span", "text-truncate fw-semibold upload-filename", label);
  name.title = label;
  top.append(name, element("span", "text-body-secondary text-nowrap", humanSize(size)));
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
  button.addEventListener("click", onButton);
  line.append(icon("bi-file-earmark-arrow-up file-icon"), body, button);
  row.appendChild(line);

  let resumed = false;

  function setPercent(percent) {
    bar.style.width = percent + "%"; // CSSOM, which the CSP allows (attributes it would not)
    progress.setAttribute("aria-valuenow", String(percent));
  }

  return {
    element: row,
    button: button,

    started() {
      row.dataset.state = "uploading";
      detail.textContent = "Starting…";
    },

    /* the upload carries on from the parts a previous attempt left */
    resuming() {
      resumed = true;
      row.dataset.resumed = "true";
      detail.textContent = "Resuming…";
    },

    /* speed in bytes per second, 0 while unknown */
    progressed(loaded, total, speed) {
      const percent = Math.min(100, Math.floor((loaded / total) * 100));
      setPercent(percent);
      const parts = resumed ? ["Resuming", percent + "%"] : [percent + "%"];
      if (speed > 0) {
        parts.push(humanSize(speed) + "/s");
        if (loaded < total) {
          parts.push(duration((total - loaded) / speed) + " left");
        }
      }
      if (loaded >= total) {
        parts.push("saving…");
      }
      detail.textContent = parts.join(" · ");
    },

    /* state: "done", "error" or "cancelled" */
    ended(state, message) {
      const outcome = OUTCOMES[state];
      row.dataset.state = state;
      detail.textContent = message;
      detail.className = "small mt-1 upload-detail " + outcome.text;
      bar.classList.add(outcome.bar);
      if (state === "done") {
        setPercent(100);
      }
      if (outcome.icon) {
        detail.prepend(icon(outcome.icon + " me-1"));
      }
      button.setAttribute("aria-label", "Remove " + label + " from this list");
    },
  };
}
