/* The file manager page's entry point: finds the page's parts and wires the modules together.
   Everything enhances plain HTML that works without scripts; nothing is inline (the CSP). */
import { initDeleteDialog } from "./dialogs.js";
import { initDropZone } from "./dropzone.js";
import { enhance } from "./enhance.js";
import { directTransport } from "./direct-transport.js";
import { formTransport } from "./form-transport.js";
import { initListing } from "./listing.js";
import { initMoves } from "./moves.js";
import { initPickers } from "./pickers.js";
import { uploadQueue } from "./uploads.js";

const byId = (id) => document.getElementById(id);

/* How each file travels: straight to S3 in direct mode, else (and for an empty file, or one
   replacing a file of its name, which direct uploads do not do) as the streamed form post. */
function transports(form, replace) {
  const streamed = formTransport(form, replace);
  if (form.dataset.uploadMode !== "direct") {
    return streamed;
  }
  const direct = directTransport(form);
  return (file) => (file.size === 0 || (replace && replace.checked) ? streamed() : direct());
}

function main(form, listing) {
  const fileList = initListing({
    listing: listing,
    status: byId("listing-status"),
    filterForm: byId("filter-form"),
    filterInput: byId("filter"),
    allFolders: byId("search-all"),
  });
  initDeleteDialog(listing, byId("delete-modal"));
  initMoves({
    listing: listing,
    breadcrumb: document.querySelector('[data-testid="breadcrumb"]'),
    csrfToken: form.elements.namedItem("csrf_token").value,
    status: byId("listing-status"),
    onMoved: fileList.scheduleRefresh,
  });

  const pickFile = document.querySelector('[data-pick="file"]');
  const uploads = uploadQueue({
    panel: byId("upload-panel"),
    list: byId("upload-queue"),
    summary: byId("upload-summary"),
    clearButton: byId("clear-finished"),
    status: byId("upload-status"),
    pickButton: pickFile,
    limits: form.dataset,
    createTransport: transports(form, byId("replace")),
    onStored: fileList.scheduleRefresh,
  });
  initPickers({
    form: form,
    fileInput: byId("file"),
    folderInput: byId("folder"),
    pickFile: pickFile,
    pickFolder: document.querySelector('[data-pick="folder"]'),
    onFiles: uploads.add,
  });
  initDropZone(byId("drop-zone"), uploads.add);

  enhance(document);
}

const form = byId("upload-form");
const listing = byId("listing");
if (form && listing) {
  main(form, listing);
}
