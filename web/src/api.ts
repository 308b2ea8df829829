/** The まなび+ REST API as docs/API.md describes it: typed calls, typed errors. */

export const SCAN_STATUSES = ["PENDING_UPLOAD", "PENDING", "CLEAN", "INFECTED", "UNSCANNABLE", "ERROR"] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

export const GRADE_LEVELS = [
  "elementary",
  "junior-high",
  "high-school",
  "university",
  "graduate",
  "working-adult",
  "other",
] as const;
export type GradeLevel = (typeof GRADE_LEVELS)[number];
export type ProfileLocale = "ja" | "en";

export interface FileRecord {
  id: string;
  name: string;
  size: number;
  contentType: string;
  createdAt: string;
  scanStatus: ScanStatus;
  scannedAt?: string;
  definitions?: string | null;
  sha256?: string;
  /** INFECTED and UNSCANNABLE only: the signature or limit that decided it. */
  signature?: string | null;
}

/** What an admin sees: the file plus its owner's user sub. */
export interface AdminFileRecord extends FileRecord {
  owner: string;
}

export interface Page<T> {
  files: T[];
  cursor: string | null;
}

export interface UploadForm {
  url: string;
  fields: Record<string, string>;
  expiresIn: number;
}

export interface CreatedUpload {
  file: FileRecord;
  upload: UploadForm;
}

export interface Download {
  url: string;
  expiresIn: number;
  file: FileRecord;
}

export interface Profile {
  userSub: string;
  email: string | null;
  displayName: string;
  locale: ProfileLocale;
  timeZone: string;
  gradeLevel: GradeLevel | null;
  createdAt: string;
  updatedAt: string;
}

export type ProfileChanges = Partial<Pick<Profile, "displayName" | "locale" | "timeZone" | "gradeLevel">>;

export interface DefinitionsManifest {
  version: string;
  built_at: string;
  files?: unknown[];
}

/** The API answered with an error: `code` is one of docs/API.md's codes (or a stand-in when
 * something in front of the API answered, such as API Gateway's own 401). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }

  get field(): string | undefined {
    return typeof this.details.field === "string" ? this.details.field : undefined;
  }

  get limit(): number | undefined {
    return typeof this.details.limit === "number" ? this.details.limit : undefined;
  }

  get scanStatus(): ScanStatus | undefined {
    const value = this.details.scanStatus;
    return typeof value === "string" && (SCAN_STATUSES as readonly string[]).includes(value)
      ? (value as ScanStatus)
      : undefined;
  }
}

/** The request never got an answer: offline, DNS, CORS refusal, server down. */
export class NetworkError extends Error {
  override name = "NetworkError";
}

/** Where the API client gets the Cognito ID token (auth.ts implements it). */
export interface TokenSource {
  /** A valid ID token, refreshed first when it has expired. */
  idToken(): Promise<string>;
  /** Refresh now (after a 401); throws when the session cannot be refreshed. */
  refreshIdToken(): Promise<string>;
}

/** Codes for answers that did not come from the API's own error handler. */
function fallbackCode(status: number): string {
  if (status === 401) return "unauthenticated";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 429) return "throttled";
  if (status >= 500) return "internal_error";
  return "unexpected";
}

async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (typeof body === "object" && body !== null && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    const { code, message, Message, ...details } = record;
    const text = typeof message === "string" ? message : typeof Message === "string" ? Message : response.statusText;
    return new ApiError(
      response.status,
      typeof code === "string" ? code : fallbackCode(response.status),
      text,
      details,
    );
  }
  return new ApiError(response.status, fallbackCode(response.status), response.statusText);
}

export class ApiClient {
  private readonly fetchImpl: typeof fetch;

  constructor(
    private readonly baseUrl: string,
    private readonly tokens: TokenSource,
    fetchImpl?: typeof fetch,
  ) {
    // Bound so that `window.fetch` keeps its receiver.
    this.fetchImpl = fetchImpl ?? ((input, init) => fetch(input, init));
  }

  private async send(method: string, path: string, token: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { Authorization: token };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      return await this.fetchImpl(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      throw new NetworkError(error instanceof Error ? error.message : String(error));
    }
  }

  /** One call; on a 401 the ID token is refreshed once and the call repeated. */
  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response = await this.send(method, path, await this.tokens.idToken(), body);
    if (response.status === 401) {
      response = await this.send(method, path, await this.tokens.refreshIdToken(), body);
    }
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  getProfile(): Promise<Profile> {
    return this.call("GET", "/me");
  }

  updateProfile(changes: ProfileChanges): Promise<Profile> {
    return this.call("PUT", "/me", changes);
  }

  listFiles(options: { limit?: number; cursor?: string | null } = {}): Promise<Page<FileRecord>> {
    return this.call("GET", `/files${query({ limit: options.limit, cursor: options.cursor })}`);
  }

  getFile(id: string): Promise<FileRecord> {
    return this.call("GET", `/files/${encodeURIComponent(id)}`);
  }

  createUpload(file: { name: string; size: number; contentType?: string }): Promise<CreatedUpload> {
    const body: Record<string, unknown> = { name: file.name, size: file.size };
    if (file.contentType) body.contentType = file.contentType;
    return this.call("POST", "/files", body);
  }

  download(id: string): Promise<Download> {
    return this.call("GET", `/files/${encodeURIComponent(id)}/download`);
  }

  deleteFile(id: string): Promise<void> {
    return this.call("DELETE", `/files/${encodeURIComponent(id)}`);
  }

  adminFiles(status: ScanStatus, options: { limit?: number; cursor?: string | null } = {}): Promise<Page<AdminFileRecord>> {
    return this.call("GET", `/admin/files${query({ status, limit: options.limit, cursor: options.cursor })}`);
  }

  rescan(owner: string, id: string): Promise<{ execution: string }> {
    return this.call("POST", `/admin/users/${encodeURIComponent(owner)}/files/${encodeURIComponent(id)}/rescan`);
  }

  definitions(): Promise<DefinitionsManifest> {
    return this.call("GET", "/admin/definitions");
  }
}

function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Scans that have not reached a verdict yet. */
export function isScanning(status: ScanStatus): boolean {
  return status === "PENDING_UPLOAD" || status === "PENDING";
}
