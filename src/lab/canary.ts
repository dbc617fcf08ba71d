import { randomBytes } from 'node:crypto';

/**
 * Synthetic test data with canary markers. Lab traffic never carries real
 * data: bodies and header values are generated, and each holds a per-run
 * random marker (`ILCANARY-<16 hex>`). A marker must never show up where an
 * application byte has no business being: in plaintext on the wire (TLS
 * must hide it), in a log line, a metric label or an audit record. Paths and
 * methods are recorded in the audit on purpose, so markers go only into
 * bodies and into header values that no component records.
 */
export const CANARY_PREFIX = 'ILCANARY-';
/** Any run's marker: a component that leaks one run's data leaks every run's. */
export const ANY_CANARY = /ILCANARY-[0-9a-f]{16}/g;
/** A header no Interlock component interprets or records: the canary's way across as a header value. */
export const CANARY_HEADER = 'x-lab-payload';

export interface Canary {
  /** This run's marker. */
  readonly marker: string;
  /** A synthetic JSON body of about `bytes` bytes, the marker repeated so a copy survives any TCP segmentation. */
  body(bytes?: number): string;
  /** Header values carrying the marker. */
  headers(): Record<string, string>;
}

export function createCanary(marker = `${CANARY_PREFIX}${randomBytes(8).toString('hex')}`): Canary {
  let sequence = 0;
  return {
    marker,
    body: (bytes = 1024) => {
      sequence++;
      const items: string[] = [];
      for (let length = 0; length < bytes; ) {
        const item = `{"n":${items.length},"note":"${marker}","filler":"${randomBytes(12).toString('base64url')}"}`;
        items.push(item);
        length += item.length + 1;
      }
      return `{"synthetic":true,"sequence":${sequence},"items":[${items.join(',')}]}`;
    },
    headers: () => ({ [CANARY_HEADER]: `${marker};synthetic` }),
  };
}

export interface CanaryFinding {
  /** Where it was found: a file path, "metrics <url>", "wire <flow>". */
  readonly source: string;
  readonly marker: string;
  /** A little context around the first hit. */
  readonly excerpt: string;
}

/** Every marker (this run's, or any run's) in a text or a byte buffer. */
export function findCanaries(source: string, content: string | Buffer): CanaryFinding[] {
  const text = typeof content === 'string' ? content : content.toString('latin1');
  const findings = new Map<string, CanaryFinding>();
  for (const match of text.matchAll(ANY_CANARY)) {
    if (findings.has(match[0])) continue;
    const at = match.index ?? 0;
    findings.set(match[0], { source, marker: match[0], excerpt: text.slice(Math.max(0, at - 40), at + match[0].length + 40).replace(/[^\x20-\x7e]/g, '.') });
  }
  return [...findings.values()];
}

/** Scans several named texts (logs, metric expositions, audit files) and returns every finding. */
export function scanForCanaries(sources: ReadonlyArray<{ name: string; content: string | Buffer }>): CanaryFinding[] {
  return sources.flatMap((s) => findCanaries(s.name, s.content));
}
