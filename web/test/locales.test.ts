import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

import { afterEach, describe, expect, it } from "vitest";

import { ApiError, NetworkError } from "../src/api";
import { AuthError } from "../src/auth";
import { formatBytes, setLocale, t } from "../src/i18n";
import en from "../src/locales/en.json";
import ja from "../src/locales/ja.json";
import { describeError, refusalReason } from "../src/messages";
import { UploadError } from "../src/upload";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

afterEach(() => setLocale("ja"));

describe("locale files", () => {
  it("have the same keys and placeholders in Japanese and English, none empty", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(ja).sort());
    for (const [key, text] of Object.entries(ja)) {
      expect(text, key).not.toBe("");
      expect(placeholders((en as Record<string, string>)[key] ?? ""), key).toEqual(placeholders(text));
    }
  });

  it("name every key the code asks for", () => {
    const used = new Set<string>();
    for (const file of sources(join(__dirname, "..", "src"))) {
      for (const match of readFileSync(file, "utf8").matchAll(/\bt\(\s*"([^"]+)"/g)) used.add(match[1]!);
    }
    expect(used.size).toBeGreaterThan(50);
    expect([...used].filter((key) => !(key in ja))).toEqual([]);
  });

  it("keep learner-visible text out of the code: no Japanese in src/ outside the locale files", () => {
    const offenders = sources(join(__dirname, "..", "src")).filter((file) =>
      /[\u3040-\u30ff\u4e00-\u9fff]/.test(readFileSync(file, "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "")),
    );
    expect(offenders).toEqual([]);
  });
});

describe("messages", () => {
  it("shows the scan badges in Japanese by default", () => {
    expect(["PENDING_UPLOAD", "PENDING", "CLEAN", "INFECTED", "UNSCANNABLE", "ERROR"].map((s) => t(`status.${s}` as never))).toEqual([
      "検査待ち",
      "検査中",
      "安全",
      "ウイルス検出",
      "検査不能",
      "エラー",
    ]);
  });

  it("explains a refused download by its scan status", () => {
    const infected = new ApiError(403, "file_not_clean", "…", { scanStatus: "INFECTED" });
    const pending = new ApiError(409, "scan_pending", "…", { scanStatus: "PENDING" });

    expect(describeError(infected)).toBe("ウイルスが検出されたため、このファイルはダウンロードできません。");
    expect(describeError(pending)).toContain("ウイルス検査が終わるまで");
    setLocale("en");
    expect(describeError(infected)).toBe("A virus was found in this file, so it cannot be downloaded.");
  });

  it("names the upload limit in a too_large refusal", () => {
    expect(describeError(new ApiError(400, "too_large", "…", { limit: 512 * 1024 * 1024 }))).toBe(
      "ファイルが大きすぎます。512 MB までのファイルをアップロードできます。",
    );
  });

  it("covers offline, not allowed and Cognito's refusals", () => {
    expect(describeError(new NetworkError("Failed to fetch"))).toContain("インターネットに接続できません");
    expect(describeError(new UploadError("network", "…"))).toContain("インターネットに接続できません");
    expect(describeError(new UploadError("refused", "…", 403, "AccessDenied"))).toContain("許可しませんでした");
    expect(describeError(new ApiError(400, "invalid_field", "…", { field: "name" }))).toContain("ファイル名は使えません");
    expect(describeError(new AuthError("NotAuthorizedException", "…"))).toBe("ユーザー名またはパスワードが正しくありません。");
    expect(describeError(new AuthError("SomethingNew", "…"))).toBe(t("auth.error.unknown"));
  });

  it("says why the scan refused a file", () => {
    expect(refusalReason("INFECTED", "Manabi.Test.EICAR.UNOFFICIAL")).toContain("Manabi.Test.EICAR.UNOFFICIAL");
    expect(refusalReason("UNSCANNABLE", "Heuristics.Encrypted.Zip")).toContain("暗号化");
    expect(refusalReason("UNSCANNABLE", "Manabi.Limits.Exceeded.MaxScanBytes")).toContain("大きすぎる");
    expect(refusalReason("CLEAN", null)).toBeNull();
  });

  it("formats sizes in binary units", () => {
    expect([formatBytes(15), formatBytes(1536), formatBytes(512 * 1024 * 1024)]).toEqual(["15 B", "1.5 KB", "512 MB"]);
  });
});
