/* Files dragged onto the page, folders included: a dropped folder is no readable file in
   DataTransfer.files, so its contents are read through the entries API. */

function carriesFiles(event) {
  return event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
}

function readEntries(reader) {
  return new Promise((resolve, reject) => { reader.readEntries(resolve, reject); });
}

async function collect(entry, files) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => { entry.file(resolve, reject); });
    // The entry's path ("/trip/day1/photo.jpg") is the file's place in the dropped tree.
    Object.defineProperty(file, "relativePath", { value: entry.fullPath.replace(/^\//, "") });
    files.push(file);
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    let batch;
    do {
      batch = await readEntries(reader); // at most 100 entries a call
      for (const child of batch) {
        await collect(child, files);
      }
    } while (batch.length);
  }
}

/* Every file dropped, the ones inside folders too; the plain list when no folder was dropped
   or a folder cannot be read. */
async function droppedFiles(dataTransfer) {
  // Both lists must be read now: the DataTransfer is emptied once the drop handler returns.
  const plain = Array.from(dataTransfer.files);
  const entries = Array.from(dataTransfer.items || [])
    .filter((item) => item.kind === "file")
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (!entries.length || !entries.every(Boolean) || !entries.some((e) => e.isDirectory)) {
    return plain;
  }
  const files = [];
  try {
    for (const entry of entries) {
      await collect(entry, files);
    }
  } catch (error) {
    return plain;
  }
  return files;
}

/* Highlight the drop zone while files are dragged over the page; hand a drop to onFiles. */
export function initDropZone(dropZone, onFiles) {
  // The whole page accepts a drop, so a near miss never makes the browser open the file.
  document.addEventListener("dragover", (event) => {
    if (carriesFiles(event)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      dropZone.classList.add("dragging");
    }
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) {
      dropZone.classList.remove("dragging");
    }
  });
  document.addEventListener("drop", async (event) => {
    if (!carriesFiles(event)) {
      return;
    }
    event.preventDefault();
    dropZone.classList.remove("dragging");
    onFiles(await droppedFiles(event.dataTransfer));
  });
}
