/** The upload queue: several files at once, each with its own progress, cancel and outcome.
 * It outlives the views (switching pages or language does not stop an upload). */

import type { ApiClient, FileRecord } from "./api";
import { postToStorage, UploadError, type UploadRequest } from "./upload";

export type UploadState = "waiting" | "preparing" | "uploading" | "done" | "failed" | "cancelled";

export interface UploadItem {
  readonly key: number;
  readonly file: File;
  state: UploadState;
  sent: number;
  /** Set when the state is `failed`; described in the learner's language when shown. */
  error: unknown;
  /** The API's record, once POST /files answered. */
  record: FileRecord | null;
}

type Listener = (items: readonly UploadItem[]) => void;

const ACTIVE: ReadonlySet<UploadState> = new Set(["waiting", "preparing", "uploading"]);

export function isActive(item: UploadItem): boolean {
  return ACTIVE.has(item.state);
}

export function percent(item: UploadItem): number {
  if (item.state === "done") return 100;
  if (item.file.size === 0) return 0;
  return Math.min(100, Math.floor((item.sent / item.file.size) * 100));
}

export class UploadQueue {
  private readonly list: UploadItem[] = [];
  private readonly controllers = new Map<number, AbortController>();
  private readonly listeners = new Set<Listener>();
  private readonly uploadedListeners = new Set<(record: FileRecord) => void>();
  private nextKey = 1;
  private running = 0;

  constructor(
    private readonly api: Pick<ApiClient, "createUpload" | "deleteFile">,
    private readonly concurrency = 3,
    private readonly createRequest?: () => UploadRequest,
  ) {}

  items(): readonly UploadItem[] {
    return this.list;
  }

  hasActive(): boolean {
    return this.list.some(isActive);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with the file's record when its bytes are stored (its scan starts by itself). */
  onUploaded(listener: (record: FileRecord) => void): () => void {
    this.uploadedListeners.add(listener);
    return () => this.uploadedListeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener(this.list);
  }

  add(files: Iterable<File>): void {
    for (const file of files) {
      this.list.unshift({ key: this.nextKey++, file, state: "waiting", sent: 0, error: null, record: null });
    }
    this.changed();
    this.pump();
  }

  cancel(key: number): void {
    const item = this.list.find((candidate) => candidate.key === key);
    if (!item || !isActive(item)) return;
    const controller = this.controllers.get(key);
    if (controller) {
      controller.abort();
    } else {
      item.state = "cancelled";
      this.changed();
    }
  }

  /** Remove a finished item from the list. */
  dismiss(key: number): void {
    const index = this.list.findIndex((item) => item.key === key && !isActive(item));
    if (index >= 0) {
      this.list.splice(index, 1);
      this.changed();
    }
  }

  /** Stop every upload and forget every item: after sign-out, the next learner on this device
   * must not see the previous one's file names. */
  reset(): void {
    for (const item of this.list) if (isActive(item)) item.state = "cancelled";
    for (const controller of this.controllers.values()) controller.abort();
    this.list.splice(0, this.list.length);
    this.changed();
  }

  clearFinished(): void {
    const keep = this.list.filter(isActive);
    this.list.splice(0, this.list.length, ...keep);
    this.changed();
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const next = [...this.list].reverse().find((item) => item.state === "waiting");
      if (!next) return;
      this.running += 1;
      void this.run(next).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  private async run(item: UploadItem): Promise<void> {
    const controller = new AbortController();
    this.controllers.set(item.key, controller);
    item.state = "preparing";
    this.changed();
    try {
      const created = await this.api.createUpload({
        name: item.file.name,
        size: item.file.size,
        contentType: item.file.type || "application/octet-stream",
      });
      item.record = created.file;
      if (controller.signal.aborted) throw new UploadError("cancelled", "the upload was cancelled");
      item.state = "uploading";
      this.changed();
      await postToStorage(created.upload, item.file, {
        signal: controller.signal,
        createRequest: this.createRequest,
        onProgress: ({ sent }) => {
          item.sent = sent;
          this.changed();
        },
      });
      item.sent = item.file.size;
      item.state = "done";
      this.changed();
      for (const listener of this.uploadedListeners) listener(created.file);
    } catch (error) {
      const cancelled = error instanceof UploadError && error.failure === "cancelled";
      item.state = cancelled ? "cancelled" : "failed";
      item.error = cancelled ? null : error;
      this.changed();
      // The record would wait for bytes that never come: remove it (best effort).
      if (item.record) void this.api.deleteFile(item.record.id).catch(() => undefined);
    } finally {
      this.controllers.delete(item.key);
    }
  }
}
