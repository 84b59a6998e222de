/**
 * Audiences for ad platforms' customer lists (pure): a segment's profiles as the hashed identifiers we
 * hold, in each platform's own upload format. Only profiles whose *current* marketing consent is granted
 * (identity/consent.ts) are in; loyalty keys and Consumer-IDs never are — a platform can match neither,
 * and they are ours alone.
 *
 * What we hold: `hem` = SHA-256 of the trimmed, lower-cased e-mail; `hph` = SHA-256 of the E.164 digits
 * *without* "+" (shared/identity/link-keys.ts).
 *   - Meta hashes exactly these (e-mail trimmed and lower-cased; phone digits only, country code, no "+"
 *     and no leading zeros): both columns go in.
 *   - Google Customer Match hashes phones in E.164 *with* the leading "+" (its hashed-data guidelines and
 *     its API samples: "converted to E.164 format, with a leading '+' as required"), so our `hph` would
 *     match nobody there, and a hash cannot be re-hashed: the Google file carries e-mails only, and a
 *     profile with a phone alone has no identifier Google can use.
 *
 * Several identifiers of one profile: one row per identifier pair — row i holds the profile's i-th
 * e-mail and i-th phone (sorted), a blank cell where one list runs out. Both platforms take each row as
 * a record and match them independently, so a person with two e-mails is reached through either and is
 * still one person in the audience. Sizes are counted in profiles, never in rows.
 */
import type { NodeId } from '../identity/graph.js';
import { consentFromIndex, granted, type ConsentIndex } from '../identity/consent.js';

export type Platform = 'meta' | 'google';

export interface PlatformFormat {
  label: string;
  /** The CSV header, in the platform's own column names for hashed data. */
  header: string[];
  /** Which of our node kinds fill the columns, in header order. */
  kinds: ('hem' | 'hph')[];
  /**
   * The platform's minimum list size, in people; an export below it is refused (it would not serve, and
   * a tiny list singles people out).
   */
  minSize: number;
}

export const PLATFORMS: Record<Platform, PlatformFormat> = {
  meta: {
    label: 'Meta',
    // Meta's customer-list identifiers: `email`, `phone` (SHA-256 values are recognized as hashed).
    header: ['email', 'phone'],
    kinds: ['hem', 'hph'],
    // Meta Business Help Centre, "How to format a customer list": avoid "lists of fewer than 100 people".
    minSize: 100,
  },
  google: {
    label: 'Google Ads Customer Match',
    // Google's hashed template names the column `Email` (see above for why there is no `Phone`).
    header: ['Email'],
    kinds: ['hem'],
    // Google Ads Help, Customer Match: a list needs at least 100 (active, matched) members to serve.
    minSize: 100,
  },
};

export interface AudienceProfile {
  id: string;
  members: readonly NodeId[];
}

export interface Audience {
  platform: Platform;
  header: string[];
  rows: string[][];
  /** Profiles in the file. */
  exported: number;
  /** Left out: no current marketing consent. */
  noConsent: number;
  /** Left out: consent, but no identifier this platform can use. */
  noIdentifier: number;
}

const HASH = /^[0-9a-f]{64}$/;

export function buildAudience(platform: Platform, profiles: readonly AudienceProfile[], consent: ConsentIndex): Audience {
  const f = PLATFORMS[platform];
  const rows: string[][] = [];
  let exported = 0;
  let noConsent = 0;
  let noIdentifier = 0;
  for (const p of [...profiles].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (!granted(consentFromIndex(p.members, consent), 'marketing')) {
      noConsent++;
      continue;
    }
    // Only well-formed hashes of the kinds this platform matches: a cid or a loyalty key never gets here.
    const columns = f.kinds.map((kind) => p.members.filter((m) => m.startsWith(`${kind}:`)).map((m) => m.slice(4)).filter((v) => HASH.test(v)).sort());
    const n = Math.max(...columns.map((c) => c.length));
    if (n === 0) {
      noIdentifier++;
      continue;
    }
    exported++;
    for (let i = 0; i < n; i++) rows.push(columns.map((c) => c[i] ?? ''));
  }
  return { platform, header: f.header, rows, exported, noConsent, noIdentifier };
}

/** The file: CSV with a header line, LF line ends (values are hex, nothing needs quoting). */
export function audienceCsv(a: Audience): string {
  return [a.header, ...a.rows].map((r) => r.join(',')).join('\n') + '\n';
}
