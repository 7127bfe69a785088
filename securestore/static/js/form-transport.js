/* The one transport today (see the Transport interface in uploads.js): each file goes as the
   multipart form POST the page sends without scripts, over XHR because fetch() reports no
   upload progress. */
import { landedOnLogin } from "./session.js";

const UNREACHABLE = "The upload did not reach the server. Check your connection and try again.";
const LOGGED_OUT = "Your session has ended. Log in again, then retry this file.";

/* What went wrong, from the app's JSON error answer or, without one, from the status. */
function errorMessage(status, answer, maxSize) {
  const refused = (answer.errors || [])[0] || answer.error;
  if (refused && refused.message) {
    return refused.message;
  }
  if (status === 413) {
    return "Too large: this server accepts up to " + maxSize + " per file.";
  }
  if (status === 400) {
    return "The page has expired. Reload it and try again.";
  }
  return "The server could not store this file (error " + status + "). Try again later.";
}

/* Where one file goes: the form's action (the folder shown), plus the file's path inside a
   dropped or chosen folder, and whether it replaces a file of the same name. */
function uploadUrl(form, upload, replace) {
  const url = new URL(form.action, window.location.href);
  if (upload.label.includes("/")) {
    url.searchParams.set("path", upload.label);
  }
  if (replace && replace.checked) {
    url.searchParams.set("on_conflict", "replace");
  }
  return url;
}

/* Answer a createTransport() that posts to the upload form's action with its CSRF token;
   `replace` is the "replace files of the same name" checkbox. */
export function formTransport(form, replace) {
  const csrfToken = form.elements.namedItem("csrf_token").value;

  return function createTransport() {
    const xhr = new XMLHttpRequest();

    function answered(callbacks) {
      if (landedOnLogin(xhr.responseURL)) {
        callbacks.failed(LOGGED_OUT);
        return;
      }
      const answer = xhr.response || {};
      const stored = (answer.files || [])[0];
      if (xhr.status >= 200 && xhr.status < 300 && stored) {
        callbacks.stored(stored);
      } else {
        callbacks.failed(errorMessage(xhr.status, answer, form.dataset.maxSize));
      }
    }

    return {
      start(upload, callbacks) {
        xhr.open("POST", uploadUrl(form, upload, replace));
        xhr.setRequestHeader("Accept", "application/json");
        xhr.responseType = "json";
        xhr.upload.addEventListener("progress", (event) => {
          if (event.lengthComputable && event.total) {
            callbacks.progress(event.loaded, event.total);
          }
        });
        xhr.addEventListener("load", () => { answered(callbacks); });
        xhr.addEventListener("error", () => { callbacks.failed(UNREACHABLE); });
        const body = new FormData();
        body.append("csrf_token", csrfToken);
        body.append("file", upload.file, upload.file.name);
        xhr.send(body);
      },
      abort() {
        xhr.abort(); // then XHR fires only "abort" and "loadend", which nothing here hears
      },
    };
  };
}
