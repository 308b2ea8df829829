import { describe, expect, it } from "vitest";

import { ApiError, type CreatedUpload } from "../src/api";
import type { UploadRequest } from "../src/upload";
import { percent, UploadQueue } from "../src/uploads";

class Request implements UploadRequest {
  status = 0;
  responseText = "";
  upload = { onprogress: null as ((event: ProgressEvent) => void) | null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  open(): void {}
  send(): void {}
  abort(): void {
    this.onabort?.();
  }
  finish(status = 204): void {
    this.status = status;
    this.onload?.();
  }
}

function setup(createUpload?: (file: { name: string; size: number }) => Promise<CreatedUpload>) {
  const requests: Request[] = [];
  const deleted: string[] = [];
  let next = 0;
  const api = {
    createUpload:
      createUpload ??
      (async (file: { name: string; size: number }) => {
        next += 1;
        const id = `01F${next}`;
        return {
          file: { id, name: file.name, size: file.size, contentType: "text/plain", createdAt: "t", scanStatus: "PENDING_UPLOAD" as const },
          upload: { url: "https://bucket/", fields: { key: id }, expiresIn: 300 },
        };
      }),
    deleteFile: async (id: string) => {
      deleted.push(id);
    },
  };
  const queue = new UploadQueue(api, 2, () => {
    const request = new Request();
    requests.push(request);
    return request;
  });
  return { queue, requests, deleted };
}

const file = (name: string, size = 10) => new File([new Uint8Array(size)], name, { type: "text/plain" });
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("UploadQueue", () => {
  it("uploads several files, two at a time, each with its own state", async () => {
    const { queue, requests } = setup();
    const uploaded: string[] = [];
    queue.onUploaded((record) => uploaded.push(record.name));

    queue.add([file("a.txt"), file("b.txt"), file("c.txt")]);
    await settle();

    expect(requests).toHaveLength(2);
    expect(queue.items().map((item) => [item.file.name, item.state])).toEqual([
      ["c.txt", "waiting"],
      ["b.txt", "uploading"],
      ["a.txt", "uploading"],
    ]);
    requests[0]?.finish();
    await settle();
    await settle();
    expect(requests).toHaveLength(3);
    requests[1]?.finish();
    requests[2]?.finish();
    await settle();
    expect(uploaded).toEqual(["a.txt", "b.txt", "c.txt"]);
    expect(queue.items().every((item) => item.state === "done" && percent(item) === 100)).toBe(true);
    expect(queue.hasActive()).toBe(false);
  });

  it("cancelling removes the record the API created", async () => {
    const { queue, requests, deleted } = setup();
    queue.add([file("a.txt")]);
    await settle();

    queue.cancel(queue.items()[0]!.key);
    await settle();

    expect(requests).toHaveLength(1);
    expect(queue.items()[0]?.state).toBe("cancelled");
    expect(deleted).toEqual(["01F1"]);
  });

  it("keeps the API's refusal for the message (too large) and uploads nothing", async () => {
    const { queue, requests, deleted } = setup(async () => {
      throw new ApiError(400, "too_large", "too large", { limit: 1024 });
    });
    queue.add([file("big.bin", 2048)]);
    await settle();

    const [item] = queue.items();
    expect(item?.state).toBe("failed");
    expect(item?.error).toBeInstanceOf(ApiError);
    expect(requests).toEqual([]);
    expect(deleted).toEqual([]);
  });

  it("a failed transfer removes the record that waits for its bytes", async () => {
    const { queue, requests, deleted } = setup();
    queue.add([file("a.txt")]);
    await settle();

    requests[0]?.finish(403);
    await settle();

    expect(queue.items()[0]?.state).toBe("failed");
    expect(deleted).toEqual(["01F1"]);
  });

  it("reset stops every upload and forgets them all (sign-out)", async () => {
    const { queue, requests } = setup();
    queue.add([file("a.txt"), file("b.txt"), file("c.txt")]);
    await settle();

    queue.reset();
    await settle();

    expect(queue.items()).toEqual([]);
    expect(queue.hasActive()).toBe(false);
    expect(requests).toHaveLength(2); // the waiting one never started
  });

  it("clears finished items but keeps running ones", async () => {
    const { queue, requests } = setup();
    queue.add([file("a.txt"), file("b.txt")]);
    await settle();
    requests[0]?.finish();
    await settle();

    queue.clearFinished();

    expect(queue.items().map((item) => item.file.name)).toEqual(["b.txt"]);
  });
});
