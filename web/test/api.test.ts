import { describe, expect, it } from "vitest";

import { ApiClient, ApiError, NetworkError, type TokenSource } from "../src/api";
import { jsonResponse } from "./fakes";

interface Sent {
  method: string;
  url: string;
  headers: Headers;
  body: unknown;
}

function client(answers: Response[], tokens: Partial<TokenSource> = {}) {
  const sent: Sent[] = [];
  let refreshed = 0;
  const source: TokenSource = {
    idToken: tokens.idToken ?? (async () => "id-token-1"),
    refreshIdToken:
      tokens.refreshIdToken ??
      (async () => {
        refreshed += 1;
        return `id-token-refreshed-${refreshed}`;
      }),
  };
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    sent.push({
      method: init?.method ?? "GET",
      url: String(input),
      headers: new Headers(init?.headers),
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    });
    const answer = answers.shift();
    if (!answer) throw new Error("no answer scripted");
    return answer;
  };
  return { api: new ApiClient("https://api.example.jp", source, fetchImpl), sent, refreshes: () => refreshed };
}

describe("ApiClient", () => {
  it("sends the raw ID token (no Bearer prefix) and JSON, as docs/API.md says", async () => {
    const file = { id: "01F", name: "宿題 1.pdf", size: 3, contentType: "application/pdf", createdAt: "t", scanStatus: "PENDING_UPLOAD" };
    const { api, sent } = client([jsonResponse(201, { file, upload: { url: "https://b/", fields: { key: "k" }, expiresIn: 300 } })]);

    const created = await api.createUpload({ name: "宿題 1.pdf", size: 3, contentType: "application/pdf" });

    expect(created.file.id).toBe("01F");
    expect(sent).toHaveLength(1);
    expect(sent[0]?.method).toBe("POST");
    expect(sent[0]?.url).toBe("https://api.example.jp/files");
    expect(sent[0]?.headers.get("Authorization")).toBe("id-token-1");
    expect(sent[0]?.headers.get("Content-Type")).toBe("application/json");
    expect(sent[0]?.body).toEqual({ name: "宿題 1.pdf", size: 3, contentType: "application/pdf" });
  });

  it("builds list, admin and rescan paths with their query and escaped ids", async () => {
    const { api, sent } = client([
      jsonResponse(200, { files: [], cursor: null }),
      jsonResponse(200, { files: [], cursor: null }),
      jsonResponse(202, { execution: "arn" }),
    ]);

    await api.listFiles({ limit: 20, cursor: "eyJ+/=" });
    await api.adminFiles("INFECTED", { limit: 50 });
    await api.rescan("8f0c/../x", "01F");

    expect(sent.map((request) => `${request.method} ${request.url}`)).toEqual([
      "GET https://api.example.jp/files?limit=20&cursor=eyJ%2B%2F%3D",
      "GET https://api.example.jp/admin/files?status=INFECTED&limit=50",
      "POST https://api.example.jp/admin/users/8f0c%2F..%2Fx/files/01F/rescan",
    ]);
  });

  it("turns an API error into ApiError with its code and extra fields", async () => {
    const { api } = client([
      jsonResponse(403, {
        code: "file_not_clean",
        message: "file 01F cannot be downloaded: its scan status is INFECTED",
        scanStatus: "INFECTED",
      }),
    ]);

    const failure = await api.download("01F").catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(ApiError);
    const error = failure as ApiError;
    expect([error.status, error.code, error.scanStatus]).toEqual([403, "file_not_clean", "INFECTED"]);
  });

  it("keeps `limit` of too_large and `field` of invalid_field", async () => {
    const { api } = client([
      jsonResponse(400, { code: "too_large", message: "too large", limit: 536870912 }),
      jsonResponse(400, { code: "invalid_field", message: "bad name", field: "name" }),
    ]);

    const tooLarge = (await api.createUpload({ name: "a", size: 1e12 }).catch((e: unknown) => e)) as ApiError;
    const badName = (await api.createUpload({ name: "a/b", size: 1 }).catch((e: unknown) => e)) as ApiError;

    expect([tooLarge.code, tooLarge.limit]).toEqual(["too_large", 536870912]);
    expect([badName.code, badName.field]).toEqual(["invalid_field", "name"]);
  });

  it("refreshes the token once after a 401 and repeats the call", async () => {
    const { api, sent, refreshes } = client([
      jsonResponse(401, { message: "The incoming token has expired" }),
      jsonResponse(200, { files: [], cursor: null }),
    ]);

    await expect(api.listFiles()).resolves.toEqual({ files: [], cursor: null });

    expect(refreshes()).toBe(1);
    expect(sent.map((request) => request.headers.get("Authorization"))).toEqual(["id-token-1", "id-token-refreshed-1"]);
  });

  it("gives up after the second 401: API Gateway's own answer becomes `unauthenticated`", async () => {
    const { api, refreshes } = client([
      jsonResponse(401, { message: "Unauthorized" }),
      jsonResponse(401, { message: "Unauthorized" }),
    ]);

    const error = (await api.getProfile().catch((e: unknown) => e)) as ApiError;

    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.code]).toEqual([401, "unauthenticated"]);
    expect(refreshes()).toBe(1);
  });

  it("does not call the API when the session cannot be refreshed", async () => {
    const expired = new Error("SessionExpired");
    const { api, sent } = client([jsonResponse(401, { code: "unauthenticated", message: "sign in first" })], {
      refreshIdToken: async () => {
        throw expired;
      },
    });

    await expect(api.listFiles()).rejects.toBe(expired);
    expect(sent).toHaveLength(1);
  });

  it("reports a request that got no answer as NetworkError", async () => {
    const api = new ApiClient("https://api.example.jp", { idToken: async () => "t", refreshIdToken: async () => "t" }, async () => {
      throw new TypeError("Failed to fetch");
    });

    await expect(api.getFile("01F")).rejects.toBeInstanceOf(NetworkError);
  });

  it("answers undefined for 204 and gives non-JSON errors a code from the status", async () => {
    const { api } = client([
      new Response(null, { status: 204 }),
      new Response("<html>blocked</html>", { status: 403, headers: { "Content-Type": "text/html" } }),
      new Response("oops", { status: 502 }),
    ]);

    await expect(api.deleteFile("01F")).resolves.toBeUndefined();
    const blocked = (await api.getFile("01F").catch((e: unknown) => e)) as ApiError;
    const gateway = (await api.getFile("01F").catch((e: unknown) => e)) as ApiError;
    expect([blocked.status, blocked.code]).toEqual([403, "forbidden"]);
    expect([gateway.status, gateway.code]).toEqual([502, "internal_error"]);
  });

  it("sends only the fields a profile update changes", async () => {
    const { api, sent } = client([jsonResponse(200, { displayName: "山田 花子" })]);

    await api.updateProfile({ displayName: "山田 花子", gradeLevel: null });

    expect(sent[0]?.method).toBe("PUT");
    expect(sent[0]?.url).toBe("https://api.example.jp/me");
    expect(sent[0]?.body).toEqual({ displayName: "山田 花子", gradeLevel: null });
  });
});
