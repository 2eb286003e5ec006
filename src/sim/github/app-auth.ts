/**
 * GitHub App authentication for the fake: verifies the RS256 JWT an App signs with its private key
 * (`iss` = app id, `iat`/`exp` within GitHub's bounds) against the public key the test hands the fake.
 *
 * ## Gotchas
 * - JWT times are checked against the real wall clock (Date.now), not the world's injectable clock:
 *   the client library signs with the real clock, and GitHub itself allows ~60 s of skew.
 * - GitHub rejects `exp` more than 10 minutes ahead; so do we.
 */
import { createPublicKey, createVerify, type KeyObject } from 'node:crypto';

export interface AppRegistration {
  appId: number | string;
  /** PEM of the App's public key (SPKI or PKCS#1). */
  publicKey: string;
  installationId: number;
}

export type JwtCheck = { ok: true } | { ok: false; message: string };

const b64urlDecode = (s: string): Buffer => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');

export function verifyAppJwt(jwt: string, app: { appId: number | string; key: KeyObject }, nowMs = Date.now()): JwtCheck {
  const parts = jwt.split('.');
  if (parts.length !== 3) return { ok: false, message: 'A JSON web token could not be decoded' };
  const [h, p, s] = parts as [string, string, string];
  let headerObj: { alg?: string };
  let payload: { iss?: unknown; iat?: unknown; exp?: unknown };
  try {
    headerObj = JSON.parse(b64urlDecode(h).toString('utf8'));
    payload = JSON.parse(b64urlDecode(p).toString('utf8'));
  } catch {
    return { ok: false, message: 'A JSON web token could not be decoded' };
  }
  if (headerObj.alg !== 'RS256') return { ok: false, message: 'A JSON web token could not be decoded' };
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${h}.${p}`);
  if (!verifier.verify(app.key, b64urlDecode(s))) {
    return { ok: false, message: "A JSON web token could not be decoded" };
  }
  if (String(payload.iss) !== String(app.appId)) return { ok: false, message: "'Issuer' claim ('iss') must be an Integer" };
  const now = Math.floor(nowMs / 1000);
  if (typeof payload.iat !== 'number') return { ok: false, message: "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued." };
  if (typeof payload.exp !== 'number' || payload.exp < now - 60) {
    return { ok: false, message: "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires." };
  }
  if (payload.exp > now + 660) return { ok: false, message: "'Expiration time' claim ('exp') is too far in the future." };
  return { ok: true };
}

export function loadPublicKey(pem: string): KeyObject {
  return createPublicKey(pem);
}
