/* One part of a direct upload, PUT to its presigned S3 URL over XHR (fetch reports no upload
   progress). The part's SHA-256 goes in the header that was signed into the URL. */

/* Send `blob`; resolve when S3 took it, reject with an Error carrying `status` (0: the
   network) otherwise. The XHR is in `inFlight` meanwhile, for a cancel to abort it. */
export function sendPart(url, blob, sum, inFlight, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    inFlight.add(xhr);
    xhr.open("PUT", url);
    if (sum) {
      xhr.setRequestHeader("x-amz-checksum-sha256", sum);
    }
    xhr.upload.addEventListener("progress", (event) => { onProgress(event.loaded); });
    const fail = (status) => {
      inFlight.delete(xhr);
      const error = new Error("A part of the upload failed (" + (status || "network") + ").");
      error.status = status;
      reject(error);
    };
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        inFlight.delete(xhr);
        resolve();
      } else {
        fail(xhr.status);
      }
    });
    xhr.addEventListener("error", () => { fail(0); });
    xhr.addEventListener("abort", () => { fail(0); });
    xhr.send(blob);
  });
}
