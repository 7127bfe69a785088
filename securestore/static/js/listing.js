/* The file list, updated in place: sorting, filtering and "Show more" fetch the server-rendered
   list fragment (the same one the plain page includes) instead of loading the page again. */
import { announce } from "./dom.js";
import { disposeTooltips, enhance } from "./enhance.js";
import { landedOnLogin } from "./session.js";

const REFRESH_DELAY_MS = 250;
const FILTER_DELAY_MS = 250;

/* Wire the list's links and the filter box; the answer's scheduleRefresh() is for whoever
   changed the files (a finished upload), and coalesces calls that come close together. */
export function initListing({ listing, status, filterForm, filterInput, allFolders }) {
  // The sort order and the filter, kept in the address bar so a reload shows the same list.
  const view = new URLSearchParams(window.location.search);
  let listingRequest = 0;
  let refreshTimer = 0;
  let filterTimer = 0;

  function listingUrl(extra) {
    const url = new URL(listing.dataset.listingUrl, window.location.href);
    for (const name of ["order", "q", "folder", "all"]) {
      if (view.get(name)) {
        url.searchParams.set(name, view.get(name));
      }
    }
    for (const [name, value] of Object.entries(extra || {})) {
      url.searchParams.set(name, value);
    }
    return url;
  }

  async function fetchListing(extra) {
    const response = await fetch(listingUrl(extra), {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    });
    if (response.redirected && landedOnLogin(response.url)) {
      window.location.assign(response.url); // log in again
      throw new Error("logged out");
    }
    if (!response.ok) {
      throw new Error("The list could not be loaded (" + response.status + ").");
    }
    const template = document.createElement("template");
    template.innerHTML = await response.text();
    return template.content;
  }

  async function refreshListing(focusSelector) {
    const request = ++listingRequest;
    let fragment;
    try {
      fragment = await fetchListing();
    } catch (error) {
      announce(status, error.message);
      return;
    }
    if (request !== listingRequest) {
      return; // a newer refresh is on its way
    }
    disposeTooltips(listing);
    listing.replaceChildren(fragment);
    enhance(listing);
    const query = view.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    const count = listing.querySelector("[data-total]");
    announce(status, count ? count.textContent.trim() : "No files to show.");
    if (focusSelector) {
      const target = listing.querySelector(focusSelector);
      if (target) {
        target.focus();
      }
    }
  }

  function scheduleRefresh() {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => { refreshListing(); }, REFRESH_DELAY_MS);
  }

  async function loadMore(link) {
    const cursor = new URL(link.href).searchParams.get("cursor");
    link.classList.add("disabled");
    link.setAttribute("aria-disabled", "true");
    let fragment;
    try {
      fragment = await fetchListing({ cursor: cursor });
    } catch (error) {
      link.classList.remove("disabled");
      link.removeAttribute("aria-disabled");
      announce(status, error.message);
      return;
    }
    const rows = Array.from(fragment.querySelectorAll("#file-rows > tr"));
    const tbody = listing.querySelector("#file-rows");
    rows.forEach((row) => { tbody.appendChild(row); });
    enhance(tbody);
    const footer = listing.querySelector("#listing-footer");
    const newFooter = fragment.querySelector("#listing-footer");
    if (footer && newFooter) {
      newFooter.querySelectorAll("a:not([data-load-more])").forEach((a) => { a.remove(); });
      footer.replaceWith(newFooter);
    }
    announce(status, rows.length + " more files shown.");
    const firstNew = rows.length ? rows[0].querySelector("a") : null;
    if (firstNew) {
      firstNew.focus();
    }
  }

  function applyFilter() {
    window.clearTimeout(filterTimer);
    const text = filterInput.value.trim();
    if (text === (view.get("q") || "")) {
      return;
    }
    if (text) {
      view.set("q", text);
    } else {
      view.delete("q");
    }
    refreshListing();
  }

  listing.addEventListener("click", (event) => {
    const sort = event.target.closest("a.sort-link");
    if (sort) {
      event.preventDefault();
      view.set("order", sort.dataset.order);
      refreshListing('a.sort-link[data-column="' + sort.dataset.column + '"]');
      return;
    }
    const more = event.target.closest("a[data-load-more]");
    if (more) {
      event.preventDefault();
      loadMore(more);
      return;
    }
    const clear = event.target.closest("a[data-clear-filter]");
    if (clear) {
      event.preventDefault();
      filterInput.value = "";
      view.delete("q");
      refreshListing();
      filterInput.focus();
    }
  });
  allFolders.addEventListener("change", () => {
    if (allFolders.checked) {
      view.set("all", "1");
    } else {
      view.delete("all");
    }
    refreshListing();
  });
  filterInput.addEventListener("input", () => {
    window.clearTimeout(filterTimer);
    filterTimer = window.setTimeout(applyFilter, FILTER_DELAY_MS);
  });
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilter();
  });

  return { scheduleRefresh };
}
