/** Live scan status: poll a file while its scan runs, stop at the verdict. The API has no push
 * channel; a scan takes seconds, so a short poll that backs off is enough. */

import { ApiError, isScanning, type ApiClient, type FileRecord } from "./api";

export interface WatchOptions {
  /** Delay before the n-th poll (n from 0), in ms. */
  delay?: (attempt: number) => number;
  onError?: (error: unknown) => void;
}

const defaultDelay = (attempt: number): number => (attempt < 30 ? 1000 : Math.min(10000, 1000 + (attempt - 30) * 500));

/** Calls `onUpdate` with each new state of the file until it is final or `stop()` is called. */
export function watchFile(
  api: Pick<ApiClient, "getFile">,
  id: string,
  onUpdate: (file: FileRecord) => void,
  options: WatchOptions = {},
): () => void {
  const delay = options.delay ?? defaultDelay;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  let lastStatus: string | null = null;

  const poll = async (): Promise<void> => {
    if (stopped) return;
    try {
      const file = await api.getFile(id);
      if (stopped) return;
      if (file.scanStatus !== lastStatus) {
        lastStatus = file.scanStatus;
        onUpdate(file);
      }
      if (!isScanning(file.scanStatus)) return;
    } catch (error) {
      if (stopped) return;
      options.onError?.(error);
      // Deleted meanwhile (here or on another device): nothing more to watch.
      if (error instanceof ApiError && error.status === 404) return;
    }
    attempt += 1;
    timer = setTimeout(() => void poll(), delay(attempt));
  };
  timer = setTimeout(() => void poll(), delay(0));
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}
