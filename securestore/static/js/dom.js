/* Building nodes without innerHTML (no markup from strings, so a file name is only ever text)
   and telling screen readers what changed. */

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/* A Bootstrap Icons glyph, hidden from screen readers: the text next to it says the same. */
export function icon(name) {
  const node = element("i", "bi " + name);
  node.setAttribute("aria-hidden", "true");
  return node;
}

/* Put a message in a live region. */
export function announce(region, message) {
  // Clearing first makes screen readers repeat a message identical to the last one.
  region.textContent = "";
  window.setTimeout(() => { region.textContent = message; }, 50);
}
