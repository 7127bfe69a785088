// Copy buttons: `data-copy="<input id>"` copies that input's value to the clipboard.
for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", async () => {
    const input = document.getElementById(button.dataset.copy);
    const label = button.querySelector("[data-copy-label]");
    try {
      await navigator.clipboard.writeText(input.value);
      if (label) label.textContent = "Copied";
    } catch {
      // No clipboard access (an insecure origin, a denied permission): select it for Ctrl+C.
      input.select();
      if (label) label.textContent = "Press Ctrl+C";
    }
  });
}
