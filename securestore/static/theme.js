/* Follow the system's light/dark setting through Bootstrap's data-bs-theme, and mark the page
   as scripted. Loaded (not inline: the CSP forbids that) from <head>, so the first paint
   already has the right colours. */
(function () {
  "use strict";
  var root = document.documentElement;
  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  function apply() {
    root.setAttribute("data-bs-theme", dark.matches ? "dark" : "light");
  }
  root.classList.remove("no-js");
  root.classList.add("js");
  apply();
  dark.addEventListener("change", apply);
})();
