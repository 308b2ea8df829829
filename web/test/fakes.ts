/** Test doubles: an in-memory Storage, unsigned JWTs, a scripted Cognito and fetch. */

import type { ICognitoStorage } from "amazon-cognito-identity-js";

export function memoryStorage(): ICognitoStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    setItem: (key, value) => void data.set(key, value),
    getItem: (key) => data.get(key) ?? null,
    removeItem: (key) => void data.delete(key),
    clear: () => data.clear(),
  };
}

function base64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}

/** A token shaped like Cognito's (the client never checks signatures; API Gateway does). */
export function jwt(claims: Record<string, unknown>): string {
  return `${base64url(JSON.stringify({ alg: "RS256", kid: "test" }))}.${base64url(JSON.stringify(claims))}.c2ln`;
}

export function tokens(username: string, options: { expiresIn?: number; groups?: string[] } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + (options.expiresIn ?? 3600);
  const common = { sub: `sub-${username}`, iat: now, auth_time: now, exp, origin_jti: "jti-1" };
  const groups = options.groups ? { "cognito:groups": options.groups } : {};
  return {
    IdToken: jwt({ ...common, token_use: "id", "cognito:username": username, email: `${username}@example.jp`, ...groups }),
    AccessToken: jwt({ ...common, token_use: "access", username, ...groups }),
    RefreshToken: `refresh-${username}`,
    ExpiresIn: 3600,
    TokenType: "Bearer",
  };
}

export interface CognitoCall {
  operation: string;
  body: Record<string, any>;
}

type Handler = (body: Record<string, any>) => { status?: number; body: unknown };

/** A fetch that answers Cognito's JSON protocol from `handlers`, one per operation, and
 * records every call. An operation without a handler answers 400 like an unsupported one. */
export function fakeCognito(handlers: Record<string, Handler>) {
  const calls: CognitoCall[] = [];
  const fetch = async (_url: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    const operation = (headers.get("X-Amz-Target") ?? "").replace("AWSCognitoIdentityProviderService.", "");
    const body = JSON.parse(String(init?.body ?? "{}"));
    calls.push({ operation, body });
    const handler = handlers[operation];
    const answer = handler ? handler(body) : { status: 400, body: { __type: "UnsupportedOperation", message: operation } };
    return new Response(JSON.stringify(answer.body), {
      status: answer.status ?? 200,
      headers: { "Content-Type": "application/x-amz-json-1.1" },
    });
  };
  return { fetch, calls };
}

export function jsonResponse(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}
