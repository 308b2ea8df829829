import { describe, expect, it } from "vitest";

import { ConfigError, parseConfig } from "../src/config";

const aws = {
  stage: "stag",
  apiUrl: "https://api.stag.manabi.example.jp/",
  region: "ap-northeast-1",
  userPoolId: "ap-northeast-1_AbC123",
  userPoolClientId: "client",
};

describe("parseConfig", () => {
  it("defaults to AWS's Cognito endpoint and SRP", () => {
    expect(parseConfig(aws)).toEqual({
      ...aws,
      apiUrl: "https://api.stag.manabi.example.jp",
      cognitoEndpoint: null,
      localSignUpConfirmUrl: null,
      authFlow: "USER_SRP_AUTH",
    });
  });

  it("takes the local stack's endpoint, confirmation URL and flow", () => {
    const local = parseConfig({
      ...aws,
      stage: "local",
      cognitoEndpoint: "http://127.0.0.1:5000/",
      localSignUpConfirmUrl: "http://127.0.0.1:8080/local/confirm-sign-up",
      authFlow: "USER_PASSWORD_AUTH",
    });
    expect([local.cognitoEndpoint, local.authFlow]).toEqual(["http://127.0.0.1:5000/", "USER_PASSWORD_AUTH"]);
  });

  it("names the field that is wrong", () => {
    expect(() => parseConfig({ ...aws, userPoolId: "" })).toThrow(/userPoolId/);
    expect(() => parseConfig({ ...aws, authFlow: "CUSTOM_AUTH" })).toThrow(ConfigError);
    expect(() => parseConfig([])).toThrow(ConfigError);
  });
});
