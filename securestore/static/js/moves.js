/* Moving a file by drag and drop: a file row dropped on a folder row, or on a folder of the
   breadcrumb, is posted to the file's Move form (the page that works without scripts). */
import { announce } from "./dom.js";
import { landedOnLogin } from "./session.js";

const FILE_ROW = "application/x-securestore-file";

/* The folder element an event happened over, if any. */
function folderUnder(event) {
  return event.target.closest("[data-folder-id]");
}

/* Wire the drag sources (file rows, rows swapped in later included) and the drop targets;
   onMoved() runs after each move, successful or not, to show the list as it now is. */
export function initMoves({ listing, breadcrumb, csrfToken, status, onMoved }) {
  listing.addEventListener("dragstart", (event) => {
    const row = event.target.closest("tr[data-file-id]");
    if (row) {
      event.dataTransfer.setData(FILE_ROW, row.dataset.moveUrl);
      event.dataTransfer.effectAllowed = "move";
    }
  });

  async function move(url, folderId) {
    // A form-encoded body: multipart is for the upload routes only (anything else gets 415).
    const body = new URLSearchParams({ csrf_token: csrfToken, folder_id: folderId });
    const response = await fetch(url, {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (landedOnLogin(response.url)) {
      window.location.assign(response.url);
      return;
    }
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      announce(status, "Moved “" + answer.file.name + "”.");
    } else {
      const message = (answer.error && answer.error.message) || "The file could not be moved.";
      announce(status, message);
      window.alert(message);
    }
    onMoved();
  }

  for (const area of [listing, breadcrumb]) {
    area.addEventListener("dragover", (event) => {
      const folder = folderUnder(event);
      if (folder && event.dataTransfer.types.includes(FILE_ROW)) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        folder.classList.add("drop-target");
      }
    });
    area.addEventListener("dragleave", (event) => {
      const folder = folderUnder(event);
      if (folder && !folder.contains(event.relatedTarget)) {
        folder.classList.remove("drop-target");
      }
    });
    area.addEventListener("drop", (event) => {
      const folder = folderUnder(event);
      const url = event.dataTransfer.getData(FILE_ROW);
      if (folder && url) {
        event.preventDefault();
        folder.classList.remove("drop-target");
        move(url, folder.dataset.folderId);
      }
    });
  }
}
