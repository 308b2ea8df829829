/** Sends a file's bytes to the data bucket with the presigned POST the API handed out.
 *
 * The multipart body is the platform's (FormData), progress comes from XMLHttpRequest's upload
 * events: `fetch` cannot report upload progress. Every field of the form goes first, in the
 * order the API gave them, and the file last, as S3 requires. */

import type { UploadForm } from "./api";

export type UploadFailure =
  /** The browser could not reach the bucket (offline, CORS refusal, connection reset). */
  | "network"
  /** S3 answered with an error: the policy expired, the size no longer matches, … */
  | "refused"
  | "cancelled";

export class UploadError extends Error {
  override name = "UploadError";
  constructor(
    readonly failure: UploadFailure,
    message: string,
    readonly status = 0,
    /** S3's error code (`AccessDenied`, `EntityTooLarge`, …) when it sent one. */
    readonly storageCode: string | null = null,
  ) {
    super(message);
  }
}

export interface Progress {
  sent: number;
  total: number;
}

/** The part of XMLHttpRequest this module uses (tests pass a fake). */
export interface UploadRequest {
  open(method: string, url: string): void;
  send(body: FormData): void;
  abort(): void;
  readonly status: number;
  readonly responseText: string;
  readonly upload: { onprogress: ((event: ProgressEvent) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  ontimeout: (() => void) | null;
}

function storageErrorCode(body: string): string | null {
  const match = /<Code>([^<]+)<\/Code>/.exec(body);
  return match?.[1] ?? null;
}

/** The form S3 expects. The part's file name is not used (the key is fixed by the policy), so
 * it is a plain ASCII placeholder, as the CLI sends. */
export function buildForm(form: UploadForm, file: Blob): FormData {
  const data = new FormData();
  for (const [name, value] of Object.entries(form.fields)) data.append(name, value);
  data.append("file", file, "upload");
  return data;
}

/** POST `file` to the bucket. Resolves when S3 has stored it; rejects with UploadError. */
export function postToStorage(
  form: UploadForm,
  file: Blob,
  options: {
    onProgress?: (progress: Progress) => void;
    signal?: AbortSignal;
    createRequest?: () => UploadRequest;
  } = {},
): Promise<void> {
  const request = options.createRequest ? options.createRequest() : (new XMLHttpRequest() as unknown as UploadRequest);
  return new Promise<void>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new UploadError("cancelled", "the upload was cancelled"));
      return;
    }
    const abort = (): void => request.abort();
    options.signal?.addEventListener("abort", abort, { once: true });
    const settle = (outcome: () => void): void => {
      options.signal?.removeEventListener("abort", abort);
      outcome();
    };
    request.open("POST", form.url);
    request.upload.onprogress = (event: ProgressEvent) => {
      if (event.lengthComputable) options.onProgress?.({ sent: Math.min(event.loaded, file.size), total: file.size });
    };
    request.onload = () =>
      settle(() => {
        if (request.status >= 200 && request.status < 300) {
          options.onProgress?.({ sent: file.size, total: file.size });
          resolve();
        } else {
          const code = storageErrorCode(request.responseText);
          reject(new UploadError("refused", `the storage refused the upload (HTTP ${request.status})`, request.status, code));
        }
      });
    request.onerror = () => settle(() => reject(new UploadError("network", "the storage could not be reached")));
    request.ontimeout = request.onerror;
    request.onabort = () => settle(() => reject(new UploadError("cancelled", "the upload was cancelled")));
    request.send(buildForm(form, file));
  });
}
