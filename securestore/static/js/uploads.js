/* The upload queue: a few files at a time, each on its own row, with cancel and remove, one
   summary line and one announcement for the lot. How a file's bytes travel is the transport's
   business, so a second way of sending them changes nothing here. */
import { announce } from "./dom.js";
import { humanSize } from "./format.js";
import { speedMeter } from "./speed.js";
import { uploadRow } from "./upload-row.js";

const MAX_PARALLEL = 3;
// A row is redrawn at most this often while its bytes go: XHR reports progress many times a
// second per part, and every redraw is a layout the browser pays for on the same cores as
// the upload (people read a percentage and a speed, which change no faster).
const PROGRESS_REDRAW_MS = 250;

/**
 * How one file's bytes reach the server. The queue makes a fresh one per upload.
 * @typedef {object} Transport
 * @property {(upload: {file: File, label: string}, callbacks: TransportCallbacks) => void} start
 * @property {() => void} abort  Stop sending; no callback fires after it.
 *
 * Until abort(), progress fires any number of times, then exactly one of stored or failed.
 * @typedef {object} TransportCallbacks
 * @property {(loaded: number, total: number) => void} progress  Bytes sent so far, of total.
 * @property {() => void} resuming  It carries on from what an earlier attempt sent.
 * @property {(stored: {name: string}) => void} stored  The server kept it, as stored.name.
 * @property {(message: string) => void} failed  Why not, as a sentence for the user.
 */

function isActive(upload) {
  return upload.state === "queued" || upload.state === "uploading";
}

/**
 * Set up the queue on the page's upload panel; add(files) queues files and starts them.
 * `limits` is the upload form's dataset (maxBytes, maxSize), read afresh on every add.
 * `createTransport(file)` answers a new Transport for it; `onStored()` runs after each
 * stored file.
 */
export function uploadQueue({ panel, list, summary, clearButton, status, pickButton, limits,
  createTransport, onStored }) {
  const uploads = [];
  let running = 0;

  function add(files) {
    if (!files.length) {
      return;
    }
    panel.hidden = false;
    for (const file of files) {
      // A folder's file carries its path inside that folder, which the server keeps.
      const upload = { file: file, label: file.relativePath || file.webkitRelativePath || file.name,
        state: "queued", transport: null };
      upload.row = uploadRow(upload.label, file.size, () => { cancelOrDismiss(upload); });
      uploads.push(upload);
      list.appendChild(upload.row.element);
      if (file.size > Number(limits.maxBytes)) {
        finish(upload, "error", "Too large: " + humanSize(file.size) +
          "; this server accepts up to " + limits.maxSize + " per file.");
      }
    }
    announce(status, files.length === 1 ? "1 file added to the uploads."
      : files.length + " files added to the uploads.");
    pump();
  }

  function pump() {
    while (running < MAX_PARALLEL) {
      const next = uploads.find((u) => u.state === "queued");
      if (!next) {
        break;
      }
      start(next);
    }
    updateSummary();
  }

  function start(upload) {
    upload.state = "uploading";
    running += 1;
    const started = performance.now();
    const speed = speedMeter();
    let redrawn = -Infinity;
    upload.row.started();
    upload.transport = createTransport(upload.file);
    upload.transport.start(upload, {
      resuming() {
        upload.row.resuming();
      },
      progress(loaded, total) {
        const now = performance.now();
        if (loaded < total && now - redrawn < PROGRESS_REDRAW_MS) {
          return;
        }
        redrawn = now;
        upload.row.progressed(loaded, total, speed(loaded));
      },
      stored(stored) {
        const seconds = (performance.now() - started) / 1000;
        const renamed = stored.name !== upload.file.name ? " as “" + stored.name + "”" : "";
        const rate = seconds >= 1 ? " · " + humanSize(upload.file.size / seconds) + "/s" : "";
        finish(upload, "done", "100% · Uploaded" + renamed + rate);
        onStored();
      },
      failed(message) {
        finish(upload, "error", message);
      },
    });
  }

  function finish(upload, state, message) {
    if (upload.state === "uploading") {
      running -= 1;
    }
    upload.state = state;
    upload.transport = null;
    upload.row.ended(state, message);
    if (state === "error") {
      announce(status, upload.label + ": " + message);
    }
    pump();
    if (!uploads.some(isActive)) {
      announceTotals();
    }
  }

  function cancelOrDismiss(upload) {
    if (upload.state === "uploading") {
      upload.transport.abort();
    }
    if (isActive(upload)) {
      finish(upload, "cancelled", "Cancelled.");
    } else {
      dismiss(upload);
    }
  }

  function remove(upload) {
    uploads.splice(uploads.indexOf(upload), 1);
    upload.row.element.remove();
  }

  function dismiss(upload) {
    const index = uploads.indexOf(upload);
    const neighbour = uploads[index + 1] || uploads[index - 1];
    remove(upload);
    if (neighbour) {
      neighbour.row.button.focus();
    } else {
      panel.hidden = true;
      pickButton.focus();
    }
    updateSummary();
  }

  function count(state) {
    return uploads.filter((u) => u.state === state).length;
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
    announce(status, "Uploads finished. " + message);
  }

  clearButton.addEventListener("click", () => {
    uploads.filter((u) => !isActive(u)).forEach(remove);
    panel.hidden = uploads.length === 0;
    updateSummary();
    pickButton.focus();
  });
  window.addEventListener("beforeunload", (event) => {
    if (running > 0) {
      event.preventDefault(); // leaving would cut the running uploads short
    }
  });

  return { add };
}
