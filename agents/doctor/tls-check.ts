/**
 * The broker's TLS files: every certificate in caFile and certFile must be valid now, and should not
 * expire within 30 days (an agent whose certificate expires stops publishing and only buffers). The
 * client certificate must match its private key. The key is only loaded to compare, never shown.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errnoCode, fail, firstLine, ok, warn, type CheckResult } from './check.js';

export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

export type TlsSetting = 'caFile' | 'certFile';

export interface CertificateInfo {
  subject: string;
  validFromMs: number;
  validToMs: number;
}

const FIXES: Record<TlsSetting, string> = {
  caFile: "get the broker's current CA certificate from HQ, replace the caFile with it and restart the agent (sudo systemctl restart omniloop-agent)",
  certFile: "issue a new client certificate for this agent, replace certFile (and keyFile) with it and restart the agent (sudo systemctl restart omniloop-agent)",
};

/** Every certificate of a PEM file (a CA file may be a bundle), or of a single DER one. */
export function parseCertificates(data: Buffer): CertificateInfo[] {
  const blocks = data.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  const certs = blocks ? blocks.map((b) => new X509Certificate(b)) : [new X509Certificate(data)];
  return certs.map((c) => ({ subject: commonName(c.subject), validFromMs: Date.parse(c.validFrom), validToMs: Date.parse(c.validTo) }));
}

function commonName(subject: string): string {
  return /(?:^|\n)CN=([^\n]+)/.exec(subject)?.[1] ?? subject.replace(/\n/g, ', ');
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Pure: the worst certificate of the file decides. `keyMatches` is for certFile with a keyFile. */
export function judgeCertificates(setting: TlsSetting, path: string, certs: readonly CertificateInfo[], nowMs: number, keyMatches: boolean | null = null): CheckResult {
  const id = `tls-${setting}`;
  if (certs.length === 0) return fail(id, `broker.${setting} ${path} holds no certificate`, FIXES[setting]);
  const soonest = [...certs].sort((a, b) => a.validToMs - b.validToMs)[0]!;
  const daysLeft = Math.floor((soonest.validToMs - nowMs) / DAY_MS);
  const details = { path, certificates: certs.length, subject: soonest.subject, validTo: new Date(soonest.validToMs).toISOString(), daysLeft };
  const label = `broker.${setting} ${path} (${soonest.subject})`;
  if (soonest.validToMs <= nowMs) return fail(id, `${label} expired on ${day(soonest.validToMs)}`, FIXES[setting], details);
  const early = certs.find((c) => c.validFromMs > nowMs);
  if (early) return fail(id, `broker.${setting} ${path} (${early.subject}) is not valid before ${day(early.validFromMs)}`, 'check this machine\'s clock (the clock check above); if it is right, the certificate was issued with a wrong start date', details);
  if (keyMatches === false) return fail(id, `broker.certFile ${path} does not belong to broker.keyFile`, 'set keyFile to the private key the client certificate was issued for', details);
  if (daysLeft < EXPIRY_WARNING_DAYS) return warn(id, `${label} expires on ${day(soonest.validToMs)}, in ${daysLeft} day${daysLeft === 1 ? '' : 's'}`, FIXES[setting], details);
  return ok(id, `${label} valid until ${day(soonest.validToMs)} (${daysLeft} days)`, details);
}

export function checkCertificateFile(setting: TlsSetting, path: string, nowMs: number, keyFile?: string): CheckResult {
  const id = `tls-${setting}`;
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    return fail(id, `cannot read broker.${setting} ${path} (${errnoCode(err)})`, `put the file there or correct broker.${setting} in the config`);
  }
  let certs: CertificateInfo[];
  let keyMatches: boolean | null = null;
  try {
    certs = parseCertificates(data);
  } catch (err) {
    return fail(id, `broker.${setting} ${path} is not a PEM or DER certificate (${firstLine(err)})`, FIXES[setting]);
  }
  if (setting === 'certFile' && keyFile) keyMatches = keyMatchesCertificate(data, keyFile);
  return judgeCertificates(setting, path, certs, nowMs, keyMatches);
}

/** null when the key cannot be read or parsed here (the broker check then says more). */
function keyMatchesCertificate(certData: Buffer, keyFile: string): boolean | null {
  try {
    const blocks = certData.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
    const cert = new X509Certificate(blocks ? blocks[0] : certData);
    return cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile)));
  } catch {
    return null;
  }
}
