/** What a learner reads when something goes wrong: API error codes (docs/API.md), Cognito
 * refusals and upload failures, each mapped to a message of the locale files. */

import { ApiError, NetworkError, type ScanStatus } from "./api";
import { AuthError } from "./auth";
import { formatBytes, t, type MessageKey } from "./i18n";
import { UploadError } from "./upload";

export const STATUS_LABEL: Record<ScanStatus, MessageKey> = {
  PENDING_UPLOAD: "status.PENDING_UPLOAD",
  PENDING: "status.PENDING",
  CLEAN: "status.CLEAN",
  INFECTED: "status.INFECTED",
  UNSCANNABLE: "status.UNSCANNABLE",
  ERROR: "status.ERROR",
};

/** Why this file cannot be downloaded (any status but CLEAN). */
export function downloadRefusal(status: ScanStatus): string {
  switch (status) {
    case "PENDING_UPLOAD":
    case "PENDING":
      return t("download.refused.pending");
    case "INFECTED":
      return t("download.refused.infected");
    case "UNSCANNABLE":
      return t("download.refused.unscannable");
    case "ERROR":
      return t("download.refused.error");
    case "CLEAN":
      return "";
  }
}

/** Why the scan refused a file, in words: INFECTED names the signature; UNSCANNABLE explains
 * which limit was hit (chalicelib/verdicts.py). */
export function refusalReason(status: ScanStatus, signature: string | null | undefined): string | null {
  if (status === "INFECTED") return t("details.reason.infected", { signature: signature || t("common.none") });
  if (status === "UNSCANNABLE") {
    const sig = signature ?? "";
    if (sig.startsWith("Heuristics.Encrypted.")) return t("details.reason.encrypted");
    if (sig.startsWith("Manabi.Limits.Exceeded.") || sig.startsWith("Heuristics.Limits.Exceeded.")) {
      return t("details.reason.limits", { signature: sig });
    }
    return t("details.reason.unscannable");
  }
  if (status === "ERROR") return t("details.reason.error");
  return null;
}

function apiMessage(error: ApiError): string {
  switch (error.code) {
    case "too_large":
      return error.limit ? t("error.tooLarge", { limit: formatBytes(error.limit) }) : t("error.tooLargeNoLimit");
    case "invalid_field":
      if (error.field === "name") return t("error.invalidName");
      if (error.field === "displayName") return t("profile.error.displayName");
      if (error.field === "timeZone") return t("profile.error.timeZone");
      return t("error.invalidField");
    case "unauthenticated":
      return t("error.sessionExpired");
    case "admin_only":
      return t("admin.refused");
    case "file_not_clean":
    case "scan_pending":
      return downloadRefusal(error.scanStatus ?? (error.code === "scan_pending" ? "PENDING" : "ERROR"));
    case "not_found":
      return t("error.notFound");
    case "origin_forbidden":
    case "forbidden":
      return t("error.forbidden");
    case "verdict_final":
      return t("admin.rescan.verdictFinal");
    case "not_uploaded":
      return t("admin.rescan.notUploaded");
    case "rescan_in_progress":
      return t("admin.rescan.inProgress");
    case "definitions_not_published":
      return t("admin.definitions.none");
    case "throttled":
      return t("error.throttled");
    case "internal_error":
      return t("error.internal");
    default:
      return t("error.unexpected", { status: error.status });
  }
}

const AUTH_MESSAGES: Record<string, MessageKey> = {
  NotAuthorizedException: "auth.error.notAuthorized",
  UserNotFoundException: "auth.error.notAuthorized",
  UsernameExistsException: "auth.error.usernameExists",
  AliasExistsException: "auth.error.emailExists",
  InvalidPasswordException: "auth.error.invalidPassword",
  CodeMismatchException: "auth.error.codeMismatch",
  ExpiredCodeException: "auth.error.codeExpired",
  UserNotConfirmedException: "auth.error.notConfirmed",
  PasswordResetRequiredException: "auth.error.resetRequired",
  LimitExceededException: "auth.error.tooManyAttempts",
  TooManyRequestsException: "auth.error.tooManyAttempts",
  TooManyFailedAttemptsException: "auth.error.tooManyAttempts",
  InvalidParameterException: "auth.error.invalidParameter",
  NetworkError: "error.offline",
  SessionExpired: "error.sessionExpired",
  MfaNotSupported: "auth.error.mfa",
};

function uploadMessage(error: UploadError): string {
  if (error.failure === "cancelled") return t("upload.cancelled");
  if (error.failure === "network") return t("error.offline");
  if (error.storageCode === "EntityTooLarge" || error.storageCode === "EntityTooSmall") return t("upload.error.changed");
  if (error.status === 403) return t("upload.error.notAllowed");
  return t("upload.error.refused", { status: error.status });
}

/** A message for anything thrown by the API, auth or upload layers. */
export function describeError(error: unknown): string {
  if (typeof navigator !== "undefined" && navigator.onLine === false) return t("error.offline");
  if (error instanceof ApiError) return apiMessage(error);
  if (error instanceof NetworkError) return t("error.offline");
  if (error instanceof UploadError) return uploadMessage(error);
  if (error instanceof AuthError) {
    const key = AUTH_MESSAGES[error.code];
    return key ? t(key) : t("auth.error.unknown");
  }
  return t("error.unknown");
}
