/**
 * Blanks what could identify a person in text the cloud keeps for diagnosis (a dead-lettered payload):
 * MAC addresses in any notation, e-mail addresses and long digit runs (phones, card numbers). A
 * misbehaving sender must not be able to put raw identifiers on HQ's disk.
 */
const PATTERNS: [RegExp, string][] = [
  [/[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}/gi, '<mac>'],
  [/\b[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}\b/gi, '<mac>'],
  // Without separators: exactly 12 hex digits as one token (a Consumer-ID's 32 or a hash's 64 are not).
  [/(?<![0-9a-z_])[0-9a-f]{12}(?![0-9a-z_])/gi, '<mac>'],
  // Bounded parts (an address is at most 254 characters): unbounded ones made a long run without an @
  // quadratic to scan.
  [/[^\s"'<>@,;:]{1,64}@[^\s"'<>@,;:]{1,253}\.[a-z]{2,24}/gi, '<email>'],
  [/\+?\d[\d ()./-]{6,}\d/g, '<digits>'],
];

/** Every string in a JSON value (keys too) redacted: what a status or metrics body may carry. */
export function redactDeep(value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map(redactDeep);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactDeep(v)]));
  return value;
}

/** Longest identifier redact() blanks (an e-mail address): what a cut may have split. */
const LONGEST = 320;
/** Text beyond this is not scanned: a dead letter keeps its head only. */
const SCAN_LIMIT = 64 * 1024;

/**
 * The first `keep` characters of text, redacted: redaction first (a cut first would leave the head of
 * an address, `f0:18:98:0`), over at most SCAN_LIMIT characters, less the tail of a cut that may have
 * split an identifier.
 */
export function redactHead(text: string, keep: number): string {
  if (text.length <= SCAN_LIMIT) return redact(text).slice(0, keep);
  const r = redact(text.slice(0, SCAN_LIMIT));
  return r.slice(0, Math.min(keep, Math.max(0, r.length - LONGEST)));
}

export function redact(text: string): string {
  let out = text;
  for (const [re, by] of PATTERNS) out = out.replace(re, by);
  return out;
}
