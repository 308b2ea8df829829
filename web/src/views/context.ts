/** What every view is given and returns: the shell (app.ts) implements ``Context``; views never
 * import the shell itself. */

import type { ApiClient, Profile } from "../api";
import type { Auth, Session } from "../auth";
import type { SiteConfig } from "../config";
import type { UploadQueue } from "../uploads";

export interface View {
  element: HTMLElement;
  /** Stop timers and listeners when the view is left. */
  destroy?(): void;
}

export interface Flash {
  kind: "success" | "info";
  /** A function when the text must be in the language of the page that shows it. */
  text: string | (() => string);
}

export interface Context {
  readonly config: SiteConfig;
  readonly auth: Auth;
  readonly api: ApiClient;
  readonly uploads: UploadQueue;
  session: Session | null;
  profile: Profile | null;
  /** Kept between sign-up and confirmation, to sign in right after (memory only). */
  pendingSignUp: { username: string; password: string; destination: string | null } | null;
  /** Prefills the sign-in form after a confirmation or a password reset. */
  lastUsername: string;
  navigate(path: string): void;
  /** A message for the next view (after a redirect). */
  flash(message: Flash): void;
  signedIn(session: Session): Promise<void>;
  applyProfile(profile: Profile): void;
}
