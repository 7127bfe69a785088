/* How many part URLs a direct upload asks for at once (direct-transport.js asks; the app
   signs). A batch is hashed before it is asked for, because each part's SHA-256 is signed into
   its URL, and the next one is asked for as soon as the workers start on the last.
   The first batch is what the workers start on, so the first bytes go once those parts are
   hashed; each next one is up to GROWTH times the one before (it is hashed while that one is
   sent: where hashing is not much faster than sending, a larger one would keep the workers
   waiting), at most MAX parts and at most what the upload sends in SECONDS at its speed so far
   (a third of a URL's 15 minutes, so that no URL expires unused on a slow connection): a 1 GiB
   file (32 parts, 3 at once) takes three requests for URLs, of 3, 9 and 20 parts. */
const GROWTH = 3;
const MAX = 64;
const SECONDS = 300;

/* The size of the batch to ask for now: `first` (the parts sent at once) when none was asked
   for yet (`last` 0), else grown from `last`, capped by the `sentBytes` sent in `seconds`. */
export function nextBatchSize({ first, last, sentBytes, seconds, partSize }) {
  if (!last) {
    return first;
  }
  const fit = sentBytes ? Math.floor(sentBytes / seconds * SECONDS / partSize)
    : Infinity; // no part has arrived yet: nothing to go by
  return Math.max(first, Math.min(MAX, GROWTH * last, fit));
}
