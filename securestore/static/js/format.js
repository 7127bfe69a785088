/* How sizes and durations read on the page ("3.0 MiB", "2 min"): sizes the same way the
   server's human_size filter writes them, so a row reads alike before and after a refresh. */

const UNITS = ["KiB", "MiB", "GiB", "TiB"];

export function humanSize(bytes) {
  if (bytes < 1024) {
    return bytes + " B";
  }
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return value.toFixed(1) + " " + UNITS[unit];
}

/* Empty for an unknown time (no speed measured yet), never "0 s". */
export function duration(seconds) {
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
