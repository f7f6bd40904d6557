// Folders in: the files of a dropped or picked folder, each with its path in the folder, ready
// for `client.seed(files)` (and for WebTorrent's `client.seed`, which reads the same property).
// No dependencies.
//
// Every File returned carries its path as a `fullPath` string property, "/folder/sub/a.txt",
// the convention of WebTorrent's drag-drop package, which create-torrent (and tabswarm's seed)
// turn into the torrent: the folder common to every file becomes the torrent's name and the
// rest each file's `path`. Files come in the order the browser lists them, depth first, like
// drag-drop: nothing is sorted, so the same drop gives the same info hash in tabswarm and in
// WebTorrent. Junk files (.DS_Store, ...) are kept here; seeding leaves them out.

/**
 * The files of a drop (files and folders, recursively). Call it from the `drop` handler before
 * any `await`: a DataTransfer's items can be read only during the event. Uses
 * `webkitGetAsEntry()` (every current browser; the order drag-drop gives), else
 * `getAsFileSystemHandle()`, else the plain files.
 * @param {DataTransfer} dataTransfer
 * @returns {Promise<File[]>}
 */
export function filesFromDataTransfer(dataTransfer) {
  // Take everything from the items synchronously, while the event is being dispatched.
  const sources = [];
  const items = Array.from(dataTransfer?.items ?? []).filter((item) => item.kind === 'file');
  for (const item of items) {
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry()
      : typeof item.getAsEntry === 'function' ? item.getAsEntry() : null;
    if (entry) {
      sources.push(() => filesOfEntry(entry));
    } else if (typeof item.getAsFileSystemHandle === 'function') {
      const handle = item.getAsFileSystemHandle();
      const file = item.getAsFile();
      sources.push(async () => {
        const h = await handle;
        if (h) return filesOfHandle(h, '');
        return file ? [withPath(file, `/${file.name}`)] : [];
      });
    } else {
      const file = item.getAsFile();
      if (file) sources.push(async () => [withPath(file, `/${file.name}`)]);
    }
  }
  if (items.length === 0) {
    for (const file of Array.from(dataTransfer?.files ?? [])) {
      sources.push(async () => [withPath(file, `/${file.name}`)]);
    }
  }
  return Promise.all(sources.map((s) => s())).then((lists) => lists.flat());
}

/**
 * The files of an `<input type=file webkitdirectory>` (or of its `files`, or any list of Files),
 * in the input's order: each gets `fullPath` "/" + its `webkitRelativePath` (or "/" + its name
 * for a file picked without a folder). A File that has a `fullPath` already keeps it.
 * @param {HTMLInputElement | FileList | File[]} input
 * @returns {File[]}
 */
export function filesFromInput(input) {
  const list = input && 'files' in input && !Array.isArray(input) ? input.files : input;
  return Array.from(list ?? [], (file) => {
    if (typeof file.fullPath === 'string' && file.fullPath) return file;
    const relative = file.webkitRelativePath;
    return withPath(file, `/${relative || file.name}`);
  });
}

/** Sets `file.fullPath` (an own, writable property) and returns the file. */
function withPath(file, fullPath) {
  Object.defineProperty(file, 'fullPath', { value: fullPath, writable: true, enumerable: true, configurable: true });
  return file;
}

/** A FileSystemEntry's files, depth first; a folder's entries in the order its reader lists them. */
async function filesOfEntry(entry) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    return [withPath(file, entry.fullPath || `/${entry.name}`)];
  }
  if (!entry.isDirectory) return [];
  const reader = entry.createReader();
  const entries = [];
  // readEntries gives a batch at a time (Chromium: 100) until an empty one.
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch || batch.length === 0) break;
    entries.push(...batch);
  }
  const lists = await Promise.all(entries.map(filesOfEntry));
  return lists.flat();
}

/** A FileSystemHandle's files under `parent` ("" or "/folder"), depth first. */
async function filesOfHandle(handle, parent) {
  const path = `${parent}/${handle.name}`;
  if (handle.kind === 'file') return [withPath(await handle.getFile(), path)];
  if (handle.kind !== 'directory') return [];
  const children = [];
  for await (const child of handle.values()) children.push(child);
  const lists = await Promise.all(children.map((c) => filesOfHandle(c, path)));
  return lists.flat();
}
