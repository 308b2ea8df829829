import { describe, expect, it } from "vitest";

import type { UploadForm } from "../src/api";
import { postToStorage, UploadError, type UploadRequest } from "../src/upload";

/** A scripted XMLHttpRequest: records what was sent, lets the test drive its events. */
class FakeRequest implements UploadRequest {
  method = "";
  url = "";
  body: FormData | null = null;
  aborted = false;
  status = 0;
  responseText = "";
  upload = { onprogress: null as ((event: ProgressEvent) => void) | null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  ontimeout: (() => void) | null = null;

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }
  send(body: FormData): void {
    this.body = body;
  }
  abort(): void {
    this.aborted = true;
    this.onabort?.();
  }
  progress(loaded: number, total: number): void {
    this.upload.onprogress?.({ lengthComputable: true, loaded, total } as ProgressEvent);
  }
  answer(status: number, body = ""): void {
    this.status = status;
    this.responseText = body;
    this.onload?.();
  }
}

const form: UploadForm = {
  url: "https://prod-manabiplus-data.s3.amazonaws.com/",
  fields: { "Content-Type": "text/plain", key: "uploads/sub/01F", policy: "cG9saWN5", "x-amz-signature": "sig" },
  expiresIn: 300,
};

function start(file: Blob, signal?: AbortSignal) {
  const request = new FakeRequest();
  const seen: number[] = [];
  const done = postToStorage(form, file, { signal, createRequest: () => request, onProgress: (p) => seen.push(p.sent) });
  return { request, seen, done };
}

describe("postToStorage", () => {
  it("POSTs every policy field in order, then the file last (FormData is the encoder)", async () => {
    const file = new Blob(["今日の宿題"], { type: "text/plain" });
    const { request, done } = start(file);
    request.answer(204);
    await done;

    expect([request.method, request.url]).toEqual(["POST", form.url]);
    const names = [...(request.body?.keys() ?? [])];
    expect(names).toEqual(["Content-Type", "key", "policy", "x-amz-signature", "file"]);
    const sent = request.body?.get("file") as Blob;
    expect(await sent.text()).toBe("今日の宿題");
  });

  it("reports progress and ends at the full size", async () => {
    const file = new Blob([new Uint8Array(1000)]);
    const { request, seen, done } = start(file);
    request.progress(250, 1400); // the multipart body is larger than the file
    request.progress(1400, 1400);
    request.answer(204);
    await done;

    expect(seen).toEqual([250, 1000, 1000]);
  });

  it("turns S3's refusal into UploadError with S3's code", async () => {
    const { request, done } = start(new Blob(["x"]));
    request.answer(403, "<Error><Code>AccessDenied</Code><Message>Policy expired</Message></Error>");

    const error = (await done.catch((e: unknown) => e)) as UploadError;
    expect(error).toBeInstanceOf(UploadError);
    expect([error.failure, error.status, error.storageCode]).toEqual(["refused", 403, "AccessDenied"]);
  });

  it("reports a connection failure as network", async () => {
    const { request, done } = start(new Blob(["x"]));
    request.onerror?.();

    await expect(done).rejects.toMatchObject({ failure: "network" });
  });

  it("cancels through the AbortSignal", async () => {
    const controller = new AbortController();
    const { request, done } = start(new Blob(["x"]), controller.signal);
    controller.abort();

    await expect(done).rejects.toMatchObject({ failure: "cancelled" });
    expect(request.aborted).toBe(true);
  });

  it("does not start when already cancelled", async () => {
    const controller = new AbortController();
    controller.abort();
    const { request, done } = start(new Blob(["x"]), controller.signal);

    await expect(done).rejects.toMatchObject({ failure: "cancelled" });
    expect(request.body).toBeNull();
  });
});
