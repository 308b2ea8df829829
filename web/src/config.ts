/** The stage's settings, read at start-up from `config.json` next to index.html.
 *
 * The same build runs everywhere: `infra/publish_web.py` writes config.json into the web bucket
 * from the main stack's outputs, and the local stack (`devstack/web.py`) serves one built from
 * the running emulator. Nothing stage-specific is compiled in. */

export interface SiteConfig {
  /** `local`, `stag` or `prod`. */
  stage: string;
  /** The API's base URL, without a trailing slash. */
  apiUrl: string;
  region: string;
  userPoolId: string;
  /** The pool's web app client (the main stack's `UserPoolClientId`). */
  userPoolClientId: string;
  /** Cognito's endpoint; null means AWS's own `https://cognito-idp.{region}.amazonaws.com/`. */
  cognitoEndpoint: string | null;
  /** Local stack only: confirms a new account at once, as the e-mailed code would on AWS. */
  localSignUpConfirmUrl: string | null;
  /** How passwords are checked: SRP on AWS (the only flow the web client allows);
   * USER_PASSWORD_AUTH on the local emulator, whose SRP neither checks the password nor finds
   * the user it names (web/README.md). */
  authFlow: AuthFlow;
}

export const AUTH_FLOWS = ["USER_SRP_AUTH", "USER_PASSWORD_AUTH"] as const;
export type AuthFlow = (typeof AUTH_FLOWS)[number];

export class ConfigError extends Error {
  override name = "ConfigError";
}

function text(raw: Record<string, unknown>, name: string): string {
  const value = raw[name];
  if (typeof value !== "string" || value === "") {
    throw new ConfigError(`config.json: "${name}" must be a non-empty string`);
  }
  return value;
}

function optionalText(raw: Record<string, unknown>, name: string): string | null {
  const value = raw[name];
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") throw new ConfigError(`config.json: "${name}" must be a string or null`);
  return value;
}

function authFlow(value: unknown): AuthFlow {
  if (value === undefined || value === null) return "USER_SRP_AUTH";
  if (typeof value === "string" && (AUTH_FLOWS as readonly string[]).includes(value)) return value as AuthFlow;
  throw new ConfigError(`config.json: "authFlow" must be one of ${AUTH_FLOWS.join(", ")}`);
}

/** Checks the shape of config.json; throws ConfigError naming the first bad field. */
export function parseConfig(raw: unknown): SiteConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError("config.json must be a JSON object");
  }
  const record = raw as Record<string, unknown>;
  return {
    stage: text(record, "stage"),
    apiUrl: text(record, "apiUrl").replace(/\/+$/, ""),
    region: text(record, "region"),
    userPoolId: text(record, "userPoolId"),
    userPoolClientId: text(record, "userPoolClientId"),
    cognitoEndpoint: optionalText(record, "cognitoEndpoint"),
    localSignUpConfirmUrl: optionalText(record, "localSignUpConfirmUrl"),
    authFlow: authFlow(record.authFlow),
  };
}

export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<SiteConfig> {
  const response = await fetchImpl("./config.json", { cache: "no-store" });
  if (!response.ok) throw new ConfigError(`config.json: HTTP ${response.status}`);
  return parseConfig(await response.json());
}
