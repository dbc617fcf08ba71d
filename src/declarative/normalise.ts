/**
 * Typed documents → the normalised desired state: defaults filled in, Policy
 * files read, lists sorted by key, and the checks that need more than one
 * document (duplicates, trust domains). The same sort and checks run on the
 * server over what the API receives (checkDesiredState), so a hand-written
 * request is held to the same rules as files.
 */
import { InterlockError } from '../errors.ts';
import { parseTrustDomain, parseWorkloadSpiffeId } from '../identity/spiffe-id.ts';
import { parsePolicies } from '../policy/pdp.ts';
import { where, type Location, type Problem, type SourceDocument } from './parse.ts';
import { DESIRED_STATE_SCHEMA, storedK8sOf } from './schema.ts';
import type { DesiredAdmin, DesiredCluster, DesiredEntry, DesiredPolicy, DesiredService, DesiredState, Kind } from './types.ts';

/** Reads a Policy document's `file` (relative to the YAML file that names it). */
export type ReadPolicyFile = (yamlFile: string, file: string) => string;

/** How messages name an object in the files: `Entry east/frontend`, `Cluster east`. Cluster-scoped kinds are named within their cluster. */
export function documentRef(kind: Kind, name: string, cluster?: string): string {
  return `${kind} ${cluster ? `${cluster}/` : ''}${name}`;
}

export interface Normalised {
  readonly desired: DesiredState;
  /** documentRef → where it is, to point server-side errors back at the files. */
  readonly sources: ReadonlyMap<string, Location>;
  readonly problems: readonly Problem[];
}

export function normalise(documents: readonly SourceDocument[], readPolicy: ReadPolicyFile): Normalised {
  const problems: Problem[] = [];
  const sources = new Map<string, Location>();
  const problem = (at: Location, field: string, message: string, hint?: string) => problems.push({ at, line: at.line, field, message, ...(hint ? { hint } : {}) });
  const clusters: DesiredCluster[] = [];
  const entries: DesiredEntry[] = [];
  const services: DesiredService[] = [];
  const policies: DesiredPolicy[] = [];
  const admins: DesiredAdmin[] = [];
  const firstAt = new Map<string, Location>();
  /** Registers a key; a second document with it is a problem naming the first. */
  const unique = (key: string, at: Location, field: string, what: string): boolean => {
    const previous = firstAt.get(key);
    if (previous) problem(at, field, `${what} is already declared at ${where(previous)} (line ${previous.line})`);
    else firstAt.set(key, at);
    return !previous;
  };

  for (const doc of documents) {
    const cluster = 'cluster' in doc.spec ? doc.spec.cluster : undefined;
    const ref = documentRef(doc.kind, doc.name, cluster);
    if (!unique(ref, doc.at, 'metadata.name', ref)) continue;
    sources.set(ref, doc.at);
    switch (doc.kind) {
      case 'Cluster':
        clusters.push({ name: doc.name, trustDomain: doc.spec.trustDomain ?? null, k8s: doc.spec.k8s ? storedK8sOf(doc.spec.k8s) : null });
        if (doc.spec.trustDomain) unique(`trust domain ${doc.spec.trustDomain}`, doc.at, 'spec.trustDomain', `trust domain ${doc.spec.trustDomain}`);
        break;
      case 'Entry': {
        const { spec } = doc;
        if ((spec.namespace === undefined) !== (spec.serviceAccount === undefined)) {
          problem(doc.at, spec.namespace === undefined ? 'spec.namespace' : 'spec.serviceAccount', 'namespace and serviceAccount are selectors that go together');
        }
        if (!unique(`Entry ${spec.cluster} ${spec.spiffeId}`, doc.at, 'spec.spiffeId', `an entry for ${spec.spiffeId} in cluster ${spec.cluster}`)) break;
        entries.push({ name: doc.name, cluster: spec.cluster, spiffeId: spec.spiffeId, namespace: spec.namespace ?? null, serviceAccount: spec.serviceAccount ?? null, ttlSeconds: spec.ttlSeconds, gateway: spec.gateway });
        break;
      }
      case 'Service':
        services.push({ name: doc.name, cluster: doc.spec.cluster, namespace: doc.spec.namespace, classification: doc.spec.classification, critical: doc.spec.critical });
        break;
      case 'Policy': {
        const text = policySource(doc.spec, doc.at, readPolicy, problem);
        if (text !== undefined) policies.push({ name: doc.name, text });
        break;
      }
      case 'Admin':
        admins.push({ name: doc.name, roles: [...doc.spec.roles].sort(), disabled: doc.spec.disabled });
        break;
    }
  }

  // An entry's SPIFFE ID must be in its cluster's trust domain; checkable here when the files say which that is.
  const declaredDomain = new Map(clusters.filter((c) => c.trustDomain).map((c) => [c.name, c.trustDomain!]));
  for (const entry of entries) {
    const domain = declaredDomain.get(entry.cluster);
    if (domain && parseWorkloadSpiffeId(entry.spiffeId).trustDomain !== domain) {
      const at = sources.get(documentRef('Entry', entry.name, entry.cluster))!;
      problem(at, 'spec.spiffeId', `${entry.spiffeId} is not in trust domain ${domain} of cluster ${entry.cluster}`);
    }
  }
  if (policies.length > 1 && problems.length === 0) {
    // Each file parsed alone; together they must not repeat a policy @id.
    try {
      parsePolicies(policyText(policies)!, 'the Policy documents together');
    } catch (error) {
      const at = sources.get(documentRef('Policy', sortByKey(policies, (p) => p.name).at(-1)!.name))!;
      problem(at, 'spec', (error as Error).message);
    }
  }
  return { desired: sortState({ clusters, entries, services, policies, admins }), sources, problems };
}

function policySource(spec: { file?: string | undefined; text?: string | undefined }, at: Location, read: ReadPolicyFile, problem: (at: Location, field: string, message: string) => void): string | undefined {
  let text = spec.text;
  if (spec.file !== undefined) {
    try {
      text = read(at.file, spec.file);
    } catch (error) {
      problem(at, 'spec.file', error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }
  try {
    parsePolicies(text!, spec.file ?? `${where(at)} spec.text`);
  } catch (error) {
    problem(at, spec.file ? 'spec.file' : 'spec.text', (error as Error).message);
    return undefined;
  }
  return text;
}

/** The one policy text the documents ask for, or null when the files do not manage the policy. */
export function policyText(policies: readonly DesiredPolicy[]): string | null {
  if (policies.length === 0) return null;
  // One document is proposed exactly as written, so files and `interlock policy propose` agree byte for byte.
  if (policies.length === 1) return policies[0]!.text;
  return sortByKey(policies, (p) => p.name).map((p) => (p.text.endsWith('\n') ? p.text : `${p.text}\n`)).join('\n');
}

function sortByKey<T>(list: readonly T[], key: (item: T) => string): T[] {
  return [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Every list in key order (idempotent), so equal states have equal canonical JSON. */
export function sortState(state: DesiredState): DesiredState {
  return {
    clusters: sortByKey(state.clusters, (c) => c.name),
    entries: sortByKey(state.entries, (e) => `${e.cluster}\u0000${e.spiffeId}`),
    services: sortByKey(state.services, (s) => `${s.cluster}\u0000${s.name}`),
    policies: sortByKey(state.policies, (p) => p.name),
    admins: sortByKey(state.admins.map((a) => ({ ...a, roles: [...a.roles].sort() })), (a) => a.name),
  };
}

/**
 * The server's check of a desired state received over the API: the schema,
 * then the same cross-object rules as the files (keys unique, selectors in
 * pairs, valid Cedar). Errors name the field as `desired.<list>[i].<field>`.
 */
export function checkDesiredState(raw: unknown): DesiredState {
  const parsed = DESIRED_STATE_SCHEMA.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0]!;
    const path = ['desired', ...issue.path.map(String)].join('.');
    const detail = issue.code === 'unrecognized_keys' ? `unknown key ${JSON.stringify(issue.keys[0])}` : issue.message;
    throw new InterlockError('IL_ERR_DECLARATIVE_INVALID', `${path}: ${detail}`, { field: path });
  }
  const state = parsed.data;
  const seen = new Set<string>();
  const once = (key: string, field: string) => {
    if (seen.has(key)) throw new InterlockError('IL_ERR_DECLARATIVE_INVALID', `${field}: ${key} is declared twice`, { field });
    seen.add(key);
  };
  state.clusters.forEach((c, i) => {
    once(`Cluster ${c.name}`, `desired.clusters.${i}.name`);
    if (c.trustDomain) once(`trust domain ${parseTrustDomain(c.trustDomain)}`, `desired.clusters.${i}.trustDomain`);
  });
  state.entries.forEach((e, i) => {
    once(`Entry ${e.cluster}/${e.name}`, `desired.entries.${i}.name`);
    once(`an entry for ${e.spiffeId} in cluster ${e.cluster}`, `desired.entries.${i}.spiffeId`);
    if ((e.namespace === null) !== (e.serviceAccount === null)) {
      throw new InterlockError('IL_ERR_DECLARATIVE_INVALID', `desired.entries.${i}: namespace and serviceAccount are selectors that go together`, { field: `desired.entries.${i}.namespace` });
    }
  });
  state.services.forEach((s, i) => once(`Service ${s.cluster}/${s.name}`, `desired.services.${i}.name`));
  state.policies.forEach((p, i) => once(`Policy ${p.name}`, `desired.policies.${i}.name`));
  state.admins.forEach((a, i) => once(`Admin ${a.name}`, `desired.admins.${i}.name`));
  const text = policyText(state.policies);
  if (text !== null) {
    try {
      parsePolicies(text, 'desired.policies');
    } catch (error) {
      throw new InterlockError('IL_ERR_DECLARATIVE_INVALID', (error as Error).message, { field: 'desired.policies' });
    }
  }
  return sortState(state);
}
