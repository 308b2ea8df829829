import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { Auth, AuthError, confirmLocally } from "../src/auth";
import { fakeCognito, memoryStorage, tokens } from "./fakes";
import { SrpServer } from "./srpServer";

const POOL = "ap-northeast-1_TestPool1";
const CLIENT = "webclient123";
const PASSWORD = "Manabi+2026";

/** A small user pool: one user (hanako, e-mail alias), SRP checked for real, refresh tokens. */
function pool(options: { groups?: string[]; expiresIn?: number } = {}) {
  const srp = new SrpServer(POOL.split("_")[1] ?? "");
  const user = { username: "hanako", password: PASSWORD };
  const refreshTokens = new Set<string>();
  const issue = (expiresIn = options.expiresIn) => {
    const issued = tokens("hanako", { groups: options.groups, expiresIn });
    refreshTokens.add(issued.RefreshToken);
    return issued;
  };
  const cognito = fakeCognito({
    SignUp: (body) =>
      body.Username === "taken"
        ? { status: 400, body: { __type: "UsernameExistsException", message: "User already exists" } }
        : {
            body: {
              UserConfirmed: false,
              UserSub: "sub-new",
              CodeDeliveryDetails: { Destination: "h***@e***.jp", DeliveryMedium: "EMAIL", AttributeName: "email" },
            },
          },
    ConfirmSignUp: (body) =>
      body.ConfirmationCode === "123456"
        ? { body: {} }
        : { status: 400, body: { __type: "CodeMismatchException", message: "Invalid verification code provided" } },
    InitiateAuth: (body) => {
      const known = ["hanako", "hanako@example.jp"].includes(body.AuthParameters.USERNAME);
      if (body.AuthFlow === "USER_SRP_AUTH") {
        if (!known) return { status: 400, body: { __type: "NotAuthorizedException", message: "Incorrect username or password." } };
        return { body: { ChallengeName: "PASSWORD_VERIFIER", ChallengeParameters: srp.challenge(user, body.AuthParameters.SRP_A) } };
      }
      if (body.AuthFlow === "USER_PASSWORD_AUTH") {
        return known && body.AuthParameters.PASSWORD === PASSWORD
          ? { body: { AuthenticationResult: issue() } }
          : { status: 400, body: { __type: "NotAuthorizedException", message: "Incorrect username or password." } };
      }
      if (body.AuthFlow === "REFRESH_TOKEN_AUTH") {
        if (!refreshTokens.has(body.AuthParameters.REFRESH_TOKEN)) {
          return { status: 400, body: { __type: "NotAuthorizedException", message: "Refresh Token has been revoked" } };
        }
        const { RefreshToken: _unused, ...fresh } = issue(3600);
        return { body: { AuthenticationResult: fresh } };
      }
      return { status: 400, body: { __type: "InvalidParameterException", message: body.AuthFlow } };
    },
    RespondToAuthChallenge: (body) =>
      body.ChallengeName === "PASSWORD_VERIFIER" && srp.verify(body.ChallengeResponses)
        ? { body: { AuthenticationResult: issue() } }
        : { status: 400, body: { __type: "NotAuthorizedException", message: "Incorrect username or password." } },
    ForgotPassword: () => ({ body: { CodeDeliveryDetails: { Destination: "h***@e***.jp", DeliveryMedium: "EMAIL" } } }),
    ConfirmForgotPassword: (body) =>
      body.ConfirmationCode === "654321" ? { body: {} } : { status: 400, body: { __type: "ExpiredCodeException", message: "expired" } },
    RevokeToken: (body) => {
      refreshTokens.delete(body.Token);
      return { body: {} };
    },
  });
  return { cognito, refreshTokens, operations: () => cognito.calls.map((call) => call.operation) };
}

function auth(storage = memoryStorage(), authFlow: "USER_SRP_AUTH" | "USER_PASSWORD_AUTH" = "USER_SRP_AUTH") {
  return new Auth({ userPoolId: POOL, userPoolClientId: CLIENT, cognitoEndpoint: "https://cognito.test/", authFlow }, storage);
}

let current: ReturnType<typeof pool>;

function use(fake: ReturnType<typeof pool>): void {
  current = fake;
  vi.stubGlobal("fetch", fake.cognito.fetch);
}

beforeEach(() => use(pool()));
afterEach(() => vi.unstubAllGlobals());

describe("sign-up", () => {
  it("registers with the e-mail attribute and reports the code outstanding", async () => {
    const result = await auth().signUp("hanako", "hanako@example.jp", PASSWORD);

    expect(result).toEqual({ confirmed: false, destination: "h***@e***.jp" });
    const call = current.cognito.calls[0];
    expect(call?.operation).toBe("SignUp");
    expect(call?.body).toMatchObject({
      ClientId: CLIENT,
      Username: "hanako",
      Password: PASSWORD,
      UserAttributes: [{ Name: "email", Value: "hanako@example.jp" }],
    });
  });

  it("passes Cognito's refusal on as AuthError with its code", async () => {
    const error = await auth()
      .signUp("taken", "t@example.jp", PASSWORD)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).code).toBe("UsernameExistsException");
  });

  it("confirms with the e-mailed code", async () => {
    await expect(auth().confirmSignUp("hanako", "123456")).resolves.toBeUndefined();
    await expect(auth().confirmSignUp("hanako", "000000")).rejects.toMatchObject({ code: "CodeMismatchException" });
    expect(current.cognito.calls[0]?.body).toMatchObject({ ClientId: CLIENT, Username: "hanako", ConfirmationCode: "123456" });
  });

  it("confirms locally through the local stack's endpoint", async () => {
    const sent: { url: string; body: string }[] = [];
    const fetchImpl = async (url: RequestInfo | URL, init?: RequestInit) => {
      sent.push({ url: String(url), body: String(init?.body) });
      return new Response(null, { status: 204 });
    };

    await confirmLocally("http://127.0.0.1:8080/local/confirm-sign-up", "hanako", fetchImpl);

    expect(sent).toEqual([{ url: "http://127.0.0.1:8080/local/confirm-sign-up", body: '{"username":"hanako"}' }]);
  });
});

describe("sign-in with SRP (the web client's flow on AWS)", () => {
  it("proves the password without sending it, and keeps the session", async () => {
    const storage = memoryStorage();
    const outcome = await auth(storage).signIn("hanako", PASSWORD);

    expect(outcome.kind).toBe("signedIn");
    expect(current.operations()).toEqual(["InitiateAuth", "RespondToAuthChallenge"]);
    const [initiate, respond] = current.cognito.calls;
    expect(initiate?.body.AuthFlow).toBe("USER_SRP_AUTH");
    expect(JSON.stringify(current.cognito.calls)).not.toContain(PASSWORD);
    expect(respond?.body.ChallengeResponses.USERNAME).toBe("hanako");
    // A new Auth on the same storage (a reload) finds the session.
    const restored = await auth(storage).current();
    expect(restored?.username).toBe("hanako");
  });

  it("signs in with the e-mail alias: the proof uses the USER_ID_FOR_SRP Cognito names", async () => {
    const outcome = await auth().signIn("hanako@example.jp", PASSWORD);

    expect(outcome.kind).toBe("signedIn");
    expect(current.cognito.calls[1]?.body.ChallengeResponses.USERNAME).toBe("hanako");
  });

  it("refuses a wrong password (the proof does not verify)", async () => {
    const error = await auth()
      .signIn("hanako", "Wrong+2026")
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).code).toBe("NotAuthorizedException");
  });

  it("reads the admins group from the ID token", async () => {
    use(pool({ groups: ["admins"] }));
    const outcome = await auth().signIn("hanako", PASSWORD);

    expect(outcome.kind === "signedIn" && outcome.session.isAdmin).toBe(true);
    expect(outcome.kind === "signedIn" && outcome.session.groups).toEqual(["admins"]);
  });

  it("a learner without the group is no admin", async () => {
    const outcome = await auth().signIn("hanako", PASSWORD);

    expect(outcome.kind === "signedIn" && outcome.session.isAdmin).toBe(false);
  });
});

describe("sign-in with USER_PASSWORD_AUTH (the local emulator's configuration)", () => {
  it("sends one InitiateAuth with the password", async () => {
    const outcome = await auth(memoryStorage(), "USER_PASSWORD_AUTH").signIn("hanako", PASSWORD);

    expect(outcome.kind).toBe("signedIn");
    expect(current.operations()).toEqual(["InitiateAuth"]);
    expect(current.cognito.calls[0]?.body.AuthFlow).toBe("USER_PASSWORD_AUTH");
  });

  it("refuses a wrong password", async () => {
    await expect(auth(memoryStorage(), "USER_PASSWORD_AUTH").signIn("hanako", "nope")).rejects.toMatchObject({
      code: "NotAuthorizedException",
    });
  });
});

describe("tokens", () => {
  it("hands out the stored ID token while it is valid, without calling Cognito", async () => {
    const storage = memoryStorage();
    await auth(storage).signIn("hanako", PASSWORD);
    const before = current.cognito.calls.length;

    const token = await auth(storage).idToken();

    expect(token.split(".")).toHaveLength(3);
    expect(current.cognito.calls.length).toBe(before);
  });

  it("refreshes an expired ID token with the refresh token", async () => {
    use(pool({ expiresIn: -60 }));
    const storage = memoryStorage();
    const first = await auth(storage).signIn("hanako", PASSWORD);
    const expiredToken = first.kind === "signedIn" ? first.session.idToken : "";

    const session = await auth(storage).current();

    expect(session).not.toBeNull();
    expect(session?.idToken).not.toBe(expiredToken);
    expect(session!.expiresAt).toBeGreaterThan(Date.now());
    const refresh = current.cognito.calls.at(-1);
    expect(refresh?.operation).toBe("InitiateAuth");
    expect(refresh?.body.AuthFlow).toBe("REFRESH_TOKEN_AUTH");
    expect(refresh?.body.AuthParameters.REFRESH_TOKEN).toBe("refresh-hanako");
  });

  it("refreshes a token that is about to expire before handing it out", async () => {
    use(pool({ expiresIn: 30 }));
    const storage = memoryStorage();
    await auth(storage).signIn("hanako", PASSWORD);
    const before = current.cognito.calls.length;

    const session = await auth(storage).current();

    expect(current.cognito.calls.length - before).toBe(1);
    expect(current.cognito.calls.at(-1)?.body.AuthFlow).toBe("REFRESH_TOKEN_AUTH");
    expect(session!.expiresAt).toBeGreaterThan(Date.now() + 3000_000);
  });

  it("shares one refresh between parallel callers", async () => {
    use(pool({ expiresIn: -60 }));
    const storage = memoryStorage();
    const client = auth(storage);
    await client.signIn("hanako", PASSWORD);
    const before = current.cognito.calls.length;

    await Promise.all([client.idToken(), client.idToken(), client.idToken()]);

    expect(current.cognito.calls.length - before).toBe(1);
  });

  it("refreshes on demand (after the API answered 401)", async () => {
    const storage = memoryStorage();
    const client = auth(storage);
    await client.signIn("hanako", PASSWORD);

    const token = await client.refreshIdToken();

    expect(token).toBeTruthy();
    expect(current.cognito.calls.at(-1)?.body.AuthFlow).toBe("REFRESH_TOKEN_AUTH");
  });

  // The library retries a failed refresh with backoff for about six seconds before it gives up.
  it("ends the session when the refresh token was revoked", { timeout: 30_000 }, async () => {
    use(pool({ expiresIn: -60 }));
    const storage = memoryStorage();
    const client = auth(storage);
    await client.signIn("hanako", PASSWORD);
    current.refreshTokens.clear();
    const seen: (string | null)[] = [];
    client.onChange((session) => seen.push(session?.username ?? null));

    await expect(client.idToken()).rejects.toMatchObject({ code: "SessionExpired" });

    expect(seen).toEqual([null]);
    expect([...storage.data.keys()].filter((key) => key.endsWith(".idToken"))).toEqual([]);
  });

  it("nobody is signed in on an empty device", async () => {
    await expect(auth().current()).resolves.toBeNull();
    await expect(auth().idToken()).rejects.toMatchObject({ code: "SessionExpired" });
    expect(current.cognito.calls).toEqual([]);
  });
});

describe("sign-out and forgotten password", () => {
  it("forgets the tokens at once and revokes the refresh token", async () => {
    const storage = memoryStorage();
    const client = auth(storage);
    await client.signIn("hanako", PASSWORD);

    client.signOut();

    expect([...storage.data.keys()].filter((key) => key.includes("Token"))).toEqual([]);
    await expect(auth(storage).current()).resolves.toBeNull();
    await vi.waitFor(() => expect(current.operations()).toContain("RevokeToken"));
    expect(current.refreshTokens.has("refresh-hanako")).toBe(false);
  });

  it("asks for a code, then sets the new password with it", async () => {
    const client = auth();

    await expect(client.forgotPassword("hanako")).resolves.toEqual({ destination: "h***@e***.jp" });
    await expect(client.confirmForgotPassword("hanako", "654321", "Neue+Pass1")).resolves.toBeUndefined();
    await expect(client.confirmForgotPassword("hanako", "111111", "Neue+Pass1")).rejects.toMatchObject({
      code: "ExpiredCodeException",
    });
    expect(current.cognito.calls[1]?.body).toMatchObject({
      ClientId: CLIENT,
      Username: "hanako",
      ConfirmationCode: "654321",
      Password: "Neue+Pass1",
    });
  });

  it("reports an unreachable Cognito as NetworkError", async () => {
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("Failed to fetch");
    });

    await expect(auth().signIn("hanako", PASSWORD)).rejects.toMatchObject({ code: "NetworkError" });
  });
});
