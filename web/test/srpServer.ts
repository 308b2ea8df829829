/** Cognito's side of SRP (USER_SRP_AUTH → PASSWORD_VERIFIER), written independently of the
 * client library with BigInt and node:crypto, so that the tests check a real password proof:
 * a wrong password, pool or user id makes the signature fail, as it would on AWS. */

import { createHash, createHmac, randomBytes } from "node:crypto";

import * as cognito from "amazon-cognito-identity-js";

// The 3072-bit group (RFC 5054) Cognito uses; read from the library only as a constant (its
// AuthenticationHelper is exported but missing from the type declarations).
const { AuthenticationHelper } = cognito as unknown as {
  AuthenticationHelper: new (pool: string) => { N: { toString(radix: number): string } };
};
const N = BigInt(`0x${new AuthenticationHelper("x").N.toString(16)}`);
const g = 2n;

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

function padHex(value: bigint): string {
  let hex = value.toString(16);
  if (hex.length % 2 !== 0) hex = `0${hex}`;
  if (/^[89a-f]/i.test(hex)) hex = `00${hex}`;
  return hex;
}

function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

function hexHash(hex: string): string {
  return sha256Hex(Buffer.from(hex, "hex"));
}

function hkdf(ikm: Buffer, salt: Buffer): Buffer {
  const prk = createHmac("sha256", salt).update(ikm).digest();
  const info = Buffer.concat([Buffer.from("Caldera Derived Key", "utf8"), Buffer.from([1])]);
  return createHmac("sha256", prk).update(info).digest().subarray(0, 16);
}

const k = BigInt(`0x${hexHash(padHex(N) + padHex(g))}`);

export interface SrpUser {
  username: string;
  password: string;
}

interface Pending {
  user: SrpUser;
  A: bigint;
  B: bigint;
  b: bigint;
  salt: bigint;
  secretBlock: string;
}

export class SrpServer {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly poolName: string) {}

  private x(user: SrpUser, salt: bigint): bigint {
    const inner = sha256Hex(`${this.poolName}${user.username}:${user.password}`);
    return BigInt(`0x${hexHash(padHex(salt) + inner)}`);
  }

  /** InitiateAuth(USER_SRP_AUTH): the challenge parameters Cognito sends. */
  challenge(user: SrpUser, srpA: string): Record<string, string> {
    const A = BigInt(`0x${srpA}`);
    if (A % N === 0n) throw new Error("A mod N is 0");
    const salt = BigInt(`0x${randomBytes(16).toString("hex")}`);
    const v = modPow(g, this.x(user, salt), N);
    const b = BigInt(`0x${randomBytes(32).toString("hex")}`);
    const B = (k * v + modPow(g, b, N)) % N;
    const secretBlock = randomBytes(64).toString("base64");
    this.pending.set(secretBlock, { user, A, B, b, salt, secretBlock });
    return {
      SALT: salt.toString(16),
      SRP_B: B.toString(16),
      SECRET_BLOCK: secretBlock,
      USERNAME: user.username,
      USER_ID_FOR_SRP: user.username,
    };
  }

  /** RespondToAuthChallenge(PASSWORD_VERIFIER): true when the signature proves the password. */
  verify(responses: Record<string, string>): boolean {
    const pending = this.pending.get(responses.PASSWORD_CLAIM_SECRET_BLOCK ?? "");
    if (!pending || responses.USERNAME !== pending.user.username) return false;
    this.pending.delete(pending.secretBlock);
    const v = modPow(g, this.x(pending.user, pending.salt), N);
    const u = BigInt(`0x${hexHash(padHex(pending.A) + padHex(pending.B))}`);
    const S = modPow((pending.A * modPow(v, u, N)) % N, pending.b, N);
    const key = hkdf(Buffer.from(padHex(S), "hex"), Buffer.from(padHex(u), "hex"));
    const message = Buffer.concat([
      Buffer.from(this.poolName, "utf8"),
      Buffer.from(pending.user.username, "utf8"),
      Buffer.from(pending.secretBlock, "base64"),
      Buffer.from(responses.TIMESTAMP ?? "", "utf8"),
    ]);
    const expected = createHmac("sha256", key).update(message).digest("base64");
    return expected === responses.PASSWORD_CLAIM_SIGNATURE;
  }
}
