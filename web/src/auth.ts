/** Accounts against the Cognito user pool, through amazon-cognito-identity-js (web/README.md
 * says why this library and not the Hosted UI).
 *
 * Sign-in uses SRP (USER_SRP_AUTH), the only password flow the pool's web client allows: the
 * password never leaves the browser. (The local emulator's configuration asks for
 * USER_PASSWORD_AUTH instead: its SRP cannot sign anyone in, see config.ts.) Tokens live in the browser's storage; the ID token goes to
 * the API and is refreshed with the refresh token when it expires or the API answers 401. */

import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserAttribute,
  CognitoUserPool,
  type CognitoUserSession,
  type ICognitoStorage,
  type ISignUpResult,
} from "amazon-cognito-identity-js";

import type { TokenSource } from "./api";

export const ADMIN_GROUP = "admins";
/** A token closer than this to its expiry is refreshed before it is used. */
export const REFRESH_MARGIN_SECONDS = 120;

/** A Cognito refusal. `code` is Cognito's exception name (`NotAuthorizedException`,
 * `UsernameExistsException`, …), `NetworkError` when Cognito could not be reached, or
 * `SessionExpired` when no session can be restored or refreshed. */
export class AuthError extends Error {
  override name = "AuthError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Session {
  username: string;
  email: string | null;
  groups: readonly string[];
  isAdmin: boolean;
  idToken: string;
  /** When the ID token expires, in ms since the epoch. */
  expiresAt: number;
}

export type SignInOutcome =
  | { kind: "signedIn"; session: Session }
  /** An administrator created the account: a new password must be chosen first. */
  | { kind: "newPasswordRequired"; complete(newPassword: string): Promise<Session> };

export interface AuthSettings {
  userPoolId: string;
  userPoolClientId: string;
  /** null: AWS's own endpoint for the pool's Region. */
  cognitoEndpoint: string | null;
  /** USER_SRP_AUTH unless the configuration says otherwise (config.ts). */
  authFlow?: "USER_SRP_AUTH" | "USER_PASSWORD_AUTH";
}

function asAuthError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (error && typeof error === "object") {
    const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
    const label = typeof code === "string" ? code : typeof name === "string" ? name : "UnknownError";
    return new AuthError(label, typeof message === "string" ? message : label);
  }
  return new AuthError("UnknownError", String(error));
}

function sessionOf(username: string, session: CognitoUserSession): Session {
  const idToken = session.getIdToken();
  const claims = idToken.decodePayload() as Record<string, unknown>;
  const rawGroups = claims["cognito:groups"];
  const groups = Array.isArray(rawGroups) ? rawGroups.map(String) : [];
  return {
    username: typeof claims["cognito:username"] === "string" ? (claims["cognito:username"] as string) : username,
    email: typeof claims.email === "string" ? claims.email : null,
    groups,
    isAdmin: groups.includes(ADMIN_GROUP),
    idToken: idToken.getJwtToken(),
    expiresAt: idToken.getExpiration() * 1000,
  };
}

type Listener = (session: Session | null) => void;

export class Auth implements TokenSource {
  private readonly pool: CognitoUserPool;
  private readonly listeners = new Set<Listener>();
  /** The user whose session is in memory (set by signIn and current). */
  private active: CognitoUser | null = null;
  private restoring: Promise<Session | null> | null = null;

  private readonly authFlow: "USER_SRP_AUTH" | "USER_PASSWORD_AUTH";

  constructor(
    settings: AuthSettings,
    private readonly storage?: ICognitoStorage,
  ) {
    this.authFlow = settings.authFlow ?? "USER_SRP_AUTH";
    this.pool = new CognitoUserPool({
      UserPoolId: settings.userPoolId,
      ClientId: settings.userPoolClientId,
      endpoint: settings.cognitoEndpoint ?? undefined,
      Storage: storage,
    });
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(session: Session | null): void {
    for (const listener of this.listeners) listener(session);
  }

  private user(username: string): CognitoUser {
    return new CognitoUser({ Username: username, Pool: this.pool, Storage: this.storage });
  }

  /** Register; `confirmed` is false while the e-mailed code is outstanding. */
  signUp(username: string, email: string, password: string): Promise<{ confirmed: boolean; destination: string | null }> {
    const attributes = [new CognitoUserAttribute({ Name: "email", Value: email })];
    return new Promise((resolve, reject) => {
      this.pool.signUp(username, password, attributes, [], (error, result?: ISignUpResult) => {
        if (error || !result) return reject(asAuthError(error));
        resolve({
          confirmed: result.userConfirmed,
          destination: (result.codeDeliveryDetails as { Destination?: string } | undefined)?.Destination ?? null,
        });
      });
    });
  }

  confirmSignUp(username: string, code: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.user(username).confirmRegistration(code, true, (error) => (error ? reject(asAuthError(error)) : resolve()));
    });
  }

  resendCode(username: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.user(username).resendConfirmationCode((error) => (error ? reject(asAuthError(error)) : resolve()));
    });
  }

  signIn(username: string, password: string): Promise<SignInOutcome> {
    const user = this.user(username);
    user.setAuthenticationFlowType(this.authFlow);
    const details = new AuthenticationDetails({ Username: username, Password: password });
    return new Promise((resolve, reject) => {
      const finish = (session: CognitoUserSession): Session => {
        this.active = user;
        const signedIn = sessionOf(user.getUsername(), session);
        this.emit(signedIn);
        return signedIn;
      };
      user.authenticateUser(details, {
        onSuccess: (session) => resolve({ kind: "signedIn", session: finish(session) }),
        onFailure: (error) => reject(asAuthError(error)),
        newPasswordRequired: () =>
          resolve({
            kind: "newPasswordRequired",
            complete: (newPassword: string) =>
              new Promise<Session>((done, fail) => {
                user.completeNewPasswordChallenge(newPassword, {}, {
                  onSuccess: (session) => done(finish(session)),
                  onFailure: (error) => fail(asAuthError(error)),
                });
              }),
          }),
        mfaRequired: () => reject(new AuthError("MfaNotSupported", "this account needs MFA, which the site does not offer")),
        totpRequired: () => reject(new AuthError("MfaNotSupported", "this account needs MFA, which the site does not offer")),
      });
    });
  }

  /** Sends a code to the account's verified e-mail address. */
  forgotPassword(username: string): Promise<{ destination: string | null }> {
    return new Promise((resolve, reject) => {
      this.user(username).forgotPassword({
        onSuccess: (data: { CodeDeliveryDetails?: { Destination?: string } }) =>
          resolve({ destination: data?.CodeDeliveryDetails?.Destination ?? null }),
        onFailure: (error) => reject(asAuthError(error)),
        inputVerificationCode: (data: { CodeDeliveryDetails?: { Destination?: string } }) =>
          resolve({ destination: data?.CodeDeliveryDetails?.Destination ?? null }),
      });
    });
  }

  confirmForgotPassword(username: string, code: string, newPassword: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.user(username).confirmPassword(code, newPassword, {
        onSuccess: () => resolve(),
        onFailure: (error) => reject(asAuthError(error)),
      });
    });
  }

  /** The signed-in user's session from storage, refreshed if its tokens have expired; null when
   * nobody is signed in or the refresh token no longer works. */
  current(): Promise<Session | null> {
    // One restore at a time: parallel API calls with an expired token share one refresh.
    this.restoring ??= this.restore().finally(() => {
      this.restoring = null;
    });
    return this.restoring;
  }

  private restore(): Promise<Session | null> {
    const user = this.pool.getCurrentUser();
    if (!user) return Promise.resolve(null);
    return new Promise((resolve) => {
      user.getSession((error: Error | null, session: CognitoUserSession | null) => {
        if (error || !session || !session.isValid()) {
          user.signOut();
          this.active = null;
          resolve(null);
          return;
        }
        this.active = user;
        const remaining = session.getIdToken().getExpiration() - Date.now() / 1000;
        if (remaining > REFRESH_MARGIN_SECONDS) {
          resolve(sessionOf(user.getUsername(), session));
          return;
        }
        // About to expire: refresh now rather than have the API refuse it on the way. (On AWS
        // API Gateway's own 401 carries no CORS header, so the page could not even read it.)
        user.refreshSession(session.getRefreshToken(), (refreshError: unknown, fresh: CognitoUserSession | null) => {
          resolve(refreshError || !fresh ? sessionOf(user.getUsername(), session) : sessionOf(user.getUsername(), fresh));
        });
      });
    });
  }

  async idToken(): Promise<string> {
    const session = await this.current();
    if (!session) {
      this.emit(null);
      throw new AuthError("SessionExpired", "not signed in, or the session has expired");
    }
    return session.idToken;
  }

  /** Refresh the tokens now, whatever their expiry says (the API refused the ID token). */
  refreshIdToken(): Promise<string> {
    const user = this.pool.getCurrentUser();
    const expired = (): AuthError => {
      user?.signOut();
      this.active = null;
      this.emit(null);
      return new AuthError("SessionExpired", "the session has expired");
    };
    if (!user) return Promise.reject(expired());
    return new Promise((resolve, reject) => {
      user.getSession((error: Error | null, session: CognitoUserSession | null) => {
        if (error || !session) return reject(expired());
        user.refreshSession(session.getRefreshToken(), (refreshError: unknown, fresh: CognitoUserSession | null) => {
          if (refreshError || !fresh) return reject(expired());
          this.active = user;
          const refreshed = sessionOf(user.getUsername(), fresh);
          this.emit(refreshed);
          resolve(refreshed.idToken);
        });
      });
    });
  }

  /** Forget the tokens on this device at once. Revoking the refresh token with Cognito happens in
   * the background and may fail (offline, or an emulator without RevokeToken): sign-out on this
   * device does not wait for it. */
  signOut(): void {
    const user = this.active ?? this.pool.getCurrentUser();
    if (user) {
      // revokeTokens (in the library, missing from its types) reads the session in memory before
      // it sends anything, so the local copy can go at once; a session that would first need a
      // refresh is not revoked.
      const revocable = user as CognitoUser & { revokeTokens?(callback: (error?: Error) => void): void };
      if (user.getSignInUserSession()?.isValid()) revocable.revokeTokens?.(() => undefined);
      user.signOut();
    }
    this.active = null;
    this.emit(null);
  }
}

/** The local stack only: confirm a new account as the e-mailed code would (devstack/web.py). */
export async function confirmLocally(url: string, username: string, fetchImpl: typeof fetch = fetch): Promise<void> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username }),
    });
  } catch (error) {
    throw new AuthError("NetworkError", error instanceof Error ? error.message : String(error));
  }
  if (!response.ok) throw new AuthError("LocalConfirmFailed", `local confirmation failed: HTTP ${response.status}`);
}
