/* Bootstrap tooltips and exact-time titles on server-rendered HTML: applied to the page once
   and to every piece of the list swapped in later, and undone before a piece is thrown away. */

const TOOLTIPS = '[data-bs-toggle="tooltip"]';

export function enhance(root) {
  root.querySelectorAll(TOOLTIPS).forEach((node) => {
    window.bootstrap.Tooltip.getOrCreateInstance(node);
  });
  root.querySelectorAll("time[datetime]").forEach((node) => {
    const when = new Date(node.dateTime);
    if (!Number.isNaN(when.getTime())) {
      node.title = when.toLocaleString(undefined, { dateStyle: "full", timeStyle: "long" });
    }
  });
}

/* An open tooltip outlives its removed node: its tip stays on the page, attached to nothing. */
export function disposeTooltips(root) {
  root.querySelectorAll(TOOLTIPS).forEach((node) => {
    const tooltip = window.bootstrap.Tooltip.getInstance(node);
    if (tooltip) {
      tooltip.dispose();
    }
  });
}
