/**
 * Consent per profile and purpose (pure). Every link event records the customer's decision for each
 * purpose at that moment (today the wire carries one purpose, `marketing`). For a profile the *latest*
 * event decides: a customer who withdraws consent after giving it is out.
 *
 * Which events are a profile's: those that name one of its people-identifiers (hashed e-mail, hashed
 * phone, loyalty key). A device's Consumer-ID or network token alone does not say who decided — a device can be lent, and
 * a merge the graph refused leaves a cid in one profile and its other person in none — so an event
 * counts for the profiles of the people it names, never through its cid only.
 *
 * Ties (two events in the same millisecond) go to the withdrawal, so a race never grants consent.
 */
import { isPerson, type Edge, type NodeId } from './graph.js';

/** Purposes a link event carries a decision for; a new purpose is a new entry here and a column on edges. */
export const CONSENT_PURPOSES = ['marketing'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];

/** An edge as the store holds it: the decision of its link event for every purpose. */
export type ConsentEdge = Edge & Record<ConsentPurpose, boolean>;

export interface ConsentRecord {
  granted: boolean;
  /** When the deciding link event happened (ms). */
  ts: number;
  /** The store it happened in. */
  store: string;
}

/** Per purpose, the deciding record — null when no link event of the profile says anything. */
export type ProfileConsent = Record<ConsentPurpose, ConsentRecord | null>;

/** The latest decision per purpose for every people-identifier (hem/hph/loy) that link events name. */
export type ConsentIndex = Map<NodeId, ProfileConsent>;


/** Whether `x` decides over `y`: later, or as late and a withdrawal, or (fully tied) the smaller store name. */
function decidesOver(x: ConsentRecord, y: ConsentRecord): boolean {
  if (x.ts !== y.ts) return x.ts > y.ts;
  if (x.granted !== y.granted) return !x.granted;
  return x.store < y.store;
}

function none(): ProfileConsent {
  return Object.fromEntries(CONSENT_PURPOSES.map((p) => [p, null])) as ProfileConsent;
}

function fold(into: ProfileConsent, from: ProfileConsent): void {
  for (const p of CONSENT_PURPOSES) {
    const r = from[p];
    const cur = into[p];
    if (r && (!cur || decidesOver(r, cur))) into[p] = r;
  }
}

/**
 * One pass over the edges: each people-identifier's latest decision. "Latest over a profile's events"
 * is the latest over its identifiers' latest ones (the order above is total), so a whole tenant's
 * consent costs one pass, not one per profile.
 */
export function consentIndex(edges: readonly ConsentEdge[], keep?: (node: NodeId) => boolean): ConsentIndex {
  const index: ConsentIndex = new Map();
  for (const e of edges) {
    const decision = none();
    for (const p of CONSENT_PURPOSES) decision[p] = { granted: e[p], ts: e.ts, store: e.store };
    for (const n of [e.a, e.b]) {
      if (!isPerson(n) || (keep && !keep(n))) continue;
      const cur = index.get(n);
      if (cur) fold(cur, decision);
      else index.set(n, { ...decision });
    }
  }
  return index;
}

/** A profile's consent from an index. */
export function consentFromIndex(members: Iterable<NodeId>, index: ConsentIndex): ProfileConsent {
  const out = none();
  for (const m of members) {
    const c = index.get(m);
    if (c) fold(out, c);
  }
  return out;
}

/** A profile's consent from its members and the tenant's edges. */
export function consentOf(members: Iterable<NodeId>, edges: readonly ConsentEdge[]): ProfileConsent {
  const set = new Set(members);
  return consentFromIndex(set, consentIndex(edges, (n) => set.has(n)));
}

/** Whether the profile's current decision for `purpose` is a grant. */
export function granted(consent: ProfileConsent, purpose: ConsentPurpose): boolean {
  return consent[purpose]?.granted === true;
}
