/** Types shared by the image-folder dataset and its pooled (worker-decoded) split. */

/** A file left out of training (`skipBad`), with why. */
export interface SkippedFile {
  file: string;
  reason: string;
}

/** One image of the folder, with its label when the folder has class sub-folders. */
export interface ImageFolderEntry {
  file: string;
  label?: number;
  /** Size and mtime when the folder was scanned (the sample cache's key). */
  stamp?: FileStamp;
}

/** A file's size and mtime when the folder was scanned. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
}
