/**
 * Services given to `interlock report trust-boundaries --services <file>`
 * when the control plane has no service catalogue. One YAML or JSON file
 * holds either
 *
 *   - a list shaped like GET /v1/services: [{ cluster, name, namespace?, classification? }];
 *   - a gateway configuration (`interlock gateway --config`): the services it
 *     exports, with their classification, which is exactly what that gateway
 *     hands its policy (gateway/inbound.ts);
 *   - declarative configuration documents (`interlock apply`): its `kind: Service` documents.
 */
import { parseAllDocuments } from 'yaml';
import { InterlockError } from '../errors.ts';
import { parseSpiffeId } from '../identity/spiffe-id.ts';
import type { ServiceInfo } from './trust-boundaries.ts';

const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'restricted'];
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function invalid(file: string, message: string): InterlockError {
  return new InterlockError('IL_ERR_REPORT_INPUT_INVALID', `${file}: ${message}`, {
    field: '--services',
    hint: 'give a list [{cluster, name, namespace?, classification?}], a gateway configuration, or declarative Service documents',
  });
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

function checked(file: string, where: string, cluster: unknown, name: unknown, namespace: unknown, classification: unknown): ServiceInfo {
  if (typeof cluster !== 'string' || !LABEL.test(cluster)) throw invalid(file, `${where}: cluster must be a DNS label`);
  if (typeof name !== 'string' || !LABEL.test(name)) throw invalid(file, `${where}: name must be a DNS label`);
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') throw invalid(file, `${where}: namespace must be a string`);
  if (classification !== undefined && classification !== null && !CLASSIFICATIONS.includes(classification as string)) {
    throw invalid(file, `${where}: classification must be one of ${CLASSIFICATIONS.join(', ')}`);
  }
  return { cluster, name, namespace: (namespace as string | null | undefined) ?? null, classification: (classification as string | null | undefined) ?? null };
}

function namespaceOfUpstreamId(id: unknown): string | null {
  if (typeof id !== 'string') return null;
  try {
    return parseSpiffeId(id).namespace ?? null;
  } catch {
    return null;
  }
}

function fromGatewayConfig(doc: Raw, file: string): ServiceInfo[] {
  if (!isObject(doc.services)) return [];
  return Object.entries(doc.services).map(([name, spec]) => {
    const s = isObject(spec) ? spec : {};
    return checked(file, `services.${name}`, doc.cluster, name, namespaceOfUpstreamId(s.id), s.classification);
  });
}

/** The services `text` (the content of `file`) declares. */
export function parseServicesFile(text: string, file: string): ServiceInfo[] {
  const documents = parseAllDocuments(text);
  const docs = Array.isArray(documents) ? documents : [documents];
  const values: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw invalid(file, `not YAML or JSON: ${doc.errors[0]!.message.split('\n')[0]}`);
    values.push(doc.toJS());
  }
  const services: ServiceInfo[] = [];
  values.forEach((value, index) => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        const s = isObject(item) ? item : {};
        services.push(checked(file, `item ${i + 1}`, s.cluster, s.name, s.namespace, s.classification));
      });
    } else if (isObject(value) && value.kind !== undefined) {
      if (value.kind !== 'Service') return;
      const spec = isObject(value.spec) ? value.spec : {};
      const name = isObject(value.metadata) ? value.metadata.name : undefined;
      services.push(checked(file, `document ${index + 1}`, spec.cluster, name, spec.namespace, spec.classification));
    } else if (isObject(value) && typeof value.cluster === 'string' && 'services' in value) {
      services.push(...fromGatewayConfig(value, file));
    } else {
      throw invalid(file, `document ${index + 1} is neither a list of services, a gateway configuration, nor a declarative document`);
    }
  });
  return services;
}

/** Several files' services; the same service twice must agree. */
export function mergeServices(lists: ReadonlyArray<{ file: string; services: readonly ServiceInfo[] }>): ServiceInfo[] {
  const merged = new Map<string, { service: ServiceInfo; file: string }>();
  for (const { file, services } of lists) {
    for (const service of services) {
      const key = `${service.cluster}/${service.name}`;
      const known = merged.get(key);
      if (known && known.service.classification !== service.classification) {
        throw invalid(file, `${key} is ${service.classification ?? 'unclassified'} here but ${known.service.classification ?? 'unclassified'} in ${known.file}`);
      }
      if (!known) merged.set(key, { service, file });
    }
  }
  return [...merged.values()].map((m) => m.service);
}
