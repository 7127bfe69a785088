/* The delete confirmation as a Bootstrap modal instead of the confirm page: it opens on Cancel,
   posts to the row's delete URL, and hands focus back to the link that opened it. */

/* Open the dialog from any row's Delete link, rows swapped in later included. */
export function initDeleteDialog(listing, modalElement) {
  const modal = window.bootstrap.Modal.getOrCreateInstance(modalElement);
  const form = document.getElementById("delete-form");
  const name = document.getElementById("delete-name");
  const question = document.getElementById("delete-question");
  const inside = document.getElementById("delete-inside");
  let trigger = null;

  listing.addEventListener("click", (event) => {
    const link = event.target.closest('a[data-action="delete"]');
    if (link) {
      event.preventDefault();
      form.action = link.dataset.deleteUrl;
      name.textContent = link.dataset.fileName;
      const folder = link.dataset.kind === "folder";
      question.textContent = folder ? "Delete this folder?" : "Delete this file?";
      inside.hidden = !folder;
      modal.show(link);
    }
  });
  modalElement.addEventListener("show.bs.modal", (event) => {
    trigger = event.relatedTarget;
  });
  modalElement.addEventListener("shown.bs.modal", () => {
    modalElement.querySelector('[data-bs-dismiss="modal"].btn').focus();
  });
  modalElement.addEventListener("hidden.bs.modal", () => {
    if (trigger && trigger.isConnected) {
      trigger.focus(); // back where the keyboard user was
    }
  });
}
