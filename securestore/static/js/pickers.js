/* The "Choose files" and "Choose a folder" buttons, and the plain form's own submit, handing
   the chosen files to the upload queue instead of posting the page. */

export function initPickers({ form, fileInput, folderInput, pickFile, pickFolder, onFiles }) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onFiles(Array.from(fileInput.files));
    fileInput.value = "";
  });
  pickFile.addEventListener("click", () => { fileInput.click(); });
  if ("webkitdirectory" in folderInput) {
    pickFolder.hidden = false;
    pickFolder.addEventListener("click", () => { folderInput.click(); });
  }
  for (const input of [fileInput, folderInput]) {
    input.addEventListener("change", () => {
      onFiles(Array.from(input.files));
      input.value = ""; // choosing the same file again must fire `change` again
    });
  }
}
