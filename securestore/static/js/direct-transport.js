/* The direct transport (UPLOAD_MODE=direct; the Transport interface is in uploads.js): the app
   starts a multipart upload and signs short-lived URLs for its parts, a few at a time, and the
   parts go from the browser straight to S3, each bound to its SHA-256 so S3 refuses other
   bytes. A part that fails is sent again with backoff; an upload cut short (a reload, a closed
   laptop) is remembered in localStorage by the file's name, size and modification time, so
   choosing the same file again sends only the parts S3 does not have yet.
   Chosen over Uppy's AWS S3 plugin and Golden Retriever: the same protocol in ~200 lines of
   modules that already own the queue, the rows and the CSP, against some 300 KB vendored. */
import { landedOnLogin } from "./session.js";
import { sendPart } from "./part-put.js";
import { nextBatchSize } from "./url-batches.js";

const PARALLEL_PARTS = 3; // parts in flight at once, and the first batch of part URLs
const RETRIES = 5;
const FIRST_RETRY_MS = 1000;
const STORE_PREFIX = "securestore.upload:";
const UNREACHABLE = "The upload did not reach the server. Check your connection and try again.";
const LOGGED_OUT = "Your session has ended. Log in again, then retry this file.";

const pause = (ms) => new Promise((resolve) => { window.setTimeout(resolve, ms); });

/* Base64 SHA-256 of a part, or null where WebCrypto is missing (a page not on HTTPS): the
   upload then goes without checksums, which S3 allows as long as no part has one. */
async function checksum(blob) {
  if (!window.crypto || !window.crypto.subtle) {
    return null;
  }
  const digest = new Uint8Array(await window.crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  return window.btoa(String.fromCharCode(...digest));
}

/* Answer a createTransport() for the page's direct uploads into the folder the form shows. */
export function directTransport(form) {
  const csrfToken = form.elements.namedItem("csrf_token").value;
  const base = new URL(form.dataset.directUrl, window.location.href);
  const folderId = form.dataset.folderId ? Number(form.dataset.folderId) : null;

  async function call(method, path, body) {
    const response = await fetch(new URL(path, base), {
      method: method,
      headers: { Accept: "application/json", "Content-Type": "application/json",
        "X-CSRFToken": csrfToken },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    }).catch(() => { throw new Error(UNREACHABLE); });
    if (landedOnLogin(response.url)) {
      throw new Error(LOGGED_OUT);
    }
    const answer = response.status === 204 ? {} : await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((answer.error && answer.error.message) ||
        "The server could not take this file (error " + response.status + ").");
      error.status = response.status;
      throw error;
    }
    return answer;
  }

  return function createTransport() {
    const inFlight = new Set();
    let stopped = false;
    let uploadId = null;
    let memo = null;
    let running = Promise.resolve();
    // Nothing new is asked of the server once cancelled (it would only answer 404 later).
    const ask = (method, path, body) => (stopped ? Promise.reject(new Error("cancelled"))
      : call(method, path, body));

    async function resumeOrStart(upload, callbacks) {
      const file = upload.file;
      memo = STORE_PREFIX + JSON.stringify([folderId, upload.label, file.size, file.lastModified]);
      const known = window.localStorage.getItem(memo);
      if (known) {
        try {
          const found = await ask("GET", known);
          if (found.size !== file.size) {
            // The id names another upload now (the app's database rebuilt, say). Not the
            // name: the app may have given the upload a free one, "video (1).mp4".
            throw new Error("another upload");
          }
          uploadId = found.id;
          callbacks.resuming();
          return { partSize: found.part_size, received: found.parts };
        } catch (error) {
          window.localStorage.removeItem(memo); // expired, finished or someone else's
        }
      }
      const path = upload.label.includes("/") ? upload.label : null;
      const started = await ask("POST", "", { name: file.name, size: file.size,
        content_type: file.type || null, folder_id: folderId, path: path });
      uploadId = started.id;
      window.localStorage.setItem(memo, String(uploadId));
      return { partSize: started.part_size, received: [] };
    }

    async function run(upload, callbacks) {
      const file = upload.file;
      const { partSize, received } = await resumeOrStart(upload, callbacks);
      const count = Math.ceil(file.size / partSize);
      const sent = new Map(received.map((part) => [part.part_number, part.size]));
      const loading = new Map();
      const report = () => {
        let loaded = 0;
        sent.forEach((size) => { loaded += size; });
        loading.forEach((size) => { loaded += size; });
        callbacks.progress(loaded, file.size);
      };
      report();
      const missing = [];
      for (let number = 1; number <= count; number += 1) {
        if (!sent.has(number)) {
          missing.push(number);
        }
      }
      const urls = new Map();
      const sums = new Map(); // a part sent again is not hashed again
      const blobOf = (number) => file.slice((number - 1) * partSize, number * partSize);
      const queue = missing.slice(); // the parts no worker has taken yet, in order
      const began = window.performance.now();
      let sentNow = 0;
      let lastBatch = 0; // how many URLs the batch signed last brought
      // Worked out when a batch is asked for, so that its cap follows the speed so far.
      const batchSize = () => nextBatchSize({ first: PARALLEL_PARTS, last: lastBatch,
        sentBytes: sentNow, seconds: (window.performance.now() - began) / 1000, partSize });

      // One batch request at a time: concurrent batches would hash the same parts twice over
      // and race in the app, which starts the S3 upload and records the signed checksums on
      // a batch (checksums were lost so).
      let signing = Promise.resolve();
      let prefetching = false;
      function signBatch(batch, needed) {
        const turn = signing.then(async () => {
          if (needed !== undefined && urls.has(needed)) {
            return; // the batch before brought it: no request out of turn
          }
          batch = batch.filter((n) => !urls.has(n));
          if (!batch.length) {
            return;
          }
          for (const n of batch) {
            if (!sums.has(n)) {
              sums.set(n, await checksum(blobOf(n)));
            }
          }
          const withSums = batch.every((n) => sums.get(n) !== null);
          const body = { part_numbers: batch };
          if (withSums) {
            body.checksums = Object.fromEntries(batch.map((n) => [n, sums.get(n)]));
          }
          const answer = await ask("POST", uploadId + "/parts", body);
          batch.forEach((n) => { urls.set(n, { url: answer.urls[String(n)], sum: sums.get(n) }); });
          lastBatch = batch.length;
        });
        signing = turn.catch(() => {});
        return turn;
      }
      const unsigned = () => queue.filter((n) => !urls.has(n));
      // Once the workers are into the last batch (its URLs are all that is left), the next
      // one is hashed and signed.
      function prefetch() {
        if (prefetching || urls.size > lastBatch || !unsigned().length) {
          return;
        }
        prefetching = true;
        signBatch(unsigned().slice(0, batchSize())).catch(() => {}) // a worker asks again
          .finally(() => { prefetching = false; });
      }
      async function urlFor(number) {
        if (!urls.has(number)) {
          await signBatch([number, ...unsigned()].slice(0, batchSize()), number);
        }
        const signed = urls.get(number);
        urls.delete(number); // a URL is used once; a retry signs a fresh one
        prefetch();
        return signed;
      }

      async function sendWithRetries(number) {
        for (let attempt = 0; ; attempt += 1) {
          const signed = await urlFor(number);
          if (stopped) {
            throw new Error("cancelled");
          }
          const blob = blobOf(number);
          try {
            await sendPart(signed.url, blob, signed.sum, inFlight, (loaded) => {
              loading.set(number, loaded);
              report();
            });
            loading.delete(number);
            sent.set(number, blob.size);
            sentNow += blob.size;
            report();
            return;
          } catch (error) {
            loading.delete(number);
            if (stopped || attempt + 1 >= RETRIES || error.status === 400) {
              throw error.status === 400 ?
                new Error("S3 refused a part of this file (it changed while uploading?).") : error;
            }
            await pause(FIRST_RETRY_MS * 2 ** attempt);
          }
        }
      }

      let broken = false; // a part that failed for good stops the other workers too
      const worker = async () => {
        while (queue.length && !stopped && !broken) {
          await sendWithRetries(queue.shift()).catch((error) => {
            broken = true;
            throw error;
          });
        }
      };
      // Every worker ends before the upload does, so a cancel never races a part in flight.
      const ended = await Promise.allSettled(Array.from({ length: PARALLEL_PARTS }, worker));
      if (stopped) {
        return;
      }
      const failure = ended.find((outcome) => outcome.status === "rejected");
      if (failure) {
        throw failure.reason;
      }
      const done = await ask("POST", uploadId + "/complete");
      window.localStorage.removeItem(memo);
      callbacks.stored(done.file);
    }

    return {
      start(upload, callbacks) {
        running = run(upload, callbacks).catch((error) => {
          if (!stopped) {
            if (error.status === 409 || error.status === 404) {
              window.localStorage.removeItem(memo); // nothing of it is kept
            }
            callbacks.failed(error.message || UNREACHABLE);
          }
        });
      },
      abort() {
        stopped = true;
        inFlight.forEach((xhr) => { xhr.abort(); });
        if (memo) {
          window.localStorage.removeItem(memo);
        }
        // Once the requests under way have settled, so none of them meets a deleted upload.
        running.then(() => {
          if (uploadId !== null) {
            call("DELETE", String(uploadId)).catch(() => {}); // else `backup sync` expires it
          }
        });
      },
    };
  };
}
