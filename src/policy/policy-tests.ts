/**
 * Policy unit tests: files of example calls and the decision each must get,
 * run through the same PolicyDecisionPoint the gateway uses. Like
 * `opa test` or the Cedar CLI's `authorize`, but with Interlock's request
 * model, so authors write a SPIFFE ID and a `cluster/service` and not Cedar
 * entities (format in docs/policy.md, "Testing policies").
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Clock } from '../clock.ts';
import { parseConfig, resolveFrom } from '../config/load.ts';
import { InterlockError } from '../errors.ts';
import { parseSpiffeId } from '../identity/spiffe-id.ts';
import { loadPolicyFile } from './compile.ts';
import { PolicyDecisionPoint } from './pdp.ts';
import type { PolicyDecision, PolicyRequest } from './pdp.ts';

const TEST_FILE_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** RFC 3339 date-time with a zone (Z or ±hh:mm), or a bare date: what Cedar's datetime() understands. */
const TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2}))?$/;

const text = z.string().min(1);
const testRequestSchema = z.strictObject({
  principal: text.describe('workload SPIFFE ID'),
  sourceCluster: text.optional(),
  resource: z.string().regex(/^[^/]+\/.+$/, 'must be "<cluster>/<service>"'),
  classification: text.optional(),
  method: text,
  path: z.string().startsWith('/', 'must start with "/"'),
  purpose: z.string().optional(),
  time: z.string().regex(TIME, 'must be an RFC 3339 time such as 2029-06-01T10:00:00Z')
    .refine((t) => !Number.isNaN(Date.parse(t)), 'is not a real date').optional(),
});
const testCaseSchema = z.strictObject({
  name: text,
  request: testRequestSchema,
  expect: z.enum(['allow', 'deny']),
  policyIds: z.array(text).optional(),
});
const testFileSchema = z.strictObject({
  policies: text.describe('.cedar file, relative to the test file'),
  cases: z.array(testCaseSchema).min(1),
});

export type PolicyTestRequest = z.infer<typeof testRequestSchema>;
export type PolicyTestCase = z.infer<typeof testCaseSchema>;

export interface PolicyTestFile {
  /** The test file, as given. */
  readonly file: string;
  /** The policy file, resolved against the test file's folder. */
  readonly policies: string;
  readonly cases: readonly PolicyTestCase[];
}

export interface PolicyTestResult {
  readonly file: string;
  readonly name: string;
  readonly passed: boolean;
  readonly expected: 'allow' | 'deny';
  readonly decision: PolicyDecision;
  /** Why the case failed, in one sentence. */
  readonly failure?: string;
}

export interface PolicyTestReport {
  readonly files: number;
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly PolicyTestResult[];
}

/**
 * Reads and checks one test file (YAML, or JSON).
 * @throws InterlockError IL_ERR_CONFIG_NOT_FOUND if unreadable, IL_ERR_CONFIG_INVALID / IL_ERR_CONFIG_UNKNOWN_KEY naming the file and field.
 */
export async function loadPolicyTestFile(file: string): Promise<PolicyTestFile> {
  let body: string;
  try {
    body = await readFile(file, 'utf8');
  } catch (err) {
    throw new InterlockError('IL_ERR_CONFIG_NOT_FOUND', `cannot read policy test file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { field: file });
  }
  let raw: unknown;
  try {
    raw = extname(file) === '.json' ? JSON.parse(body) : parseYaml(body);
  } catch (err) {
    const detail = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new InterlockError('IL_ERR_CONFIG_INVALID', `${file} is not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${detail}`, { field: file });
  }
  const parsed = parseConfig(raw, testFileSchema, file);
  parsed.cases.forEach((c, i) => {
    try {
      parseSpiffeId(c.request.principal);
    } catch (err) {
      const field = `cases.${i}.request.principal`;
      throw new InterlockError('IL_ERR_CONFIG_INVALID', `${file}: ${field}: ${(err as Error).message}`, { field, hint: 'spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>' });
    }
  });
  return { file, policies: resolveFrom(file, parsed.policies), cases: parsed.cases };
}

/** The test files at `path`: the file itself, or the *.yaml, *.yml and *.json files of a folder (not recursive), sorted. */
export async function findPolicyTestFiles(path: string): Promise<string[]> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (err) {
    throw new InterlockError('IL_ERR_CONFIG_NOT_FOUND', `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { field: path });
  }
  if (!isDirectory) return [path];
  const names = (await readdir(path)).filter((n) => TEST_FILE_EXTENSIONS.has(extname(n))).sort();
  if (names.length === 0) {
    throw new InterlockError('IL_ERR_CONFIG_INVALID', `${path} holds no policy test files`, { field: path, hint: 'test files end in .yaml, .yml or .json' });
  }
  return names.map((n) => join(path, n));
}

/** Maps a test request onto the PDP's request, deriving what a gateway would derive from the caller's SVID. */
export function toPolicyRequest(req: PolicyTestRequest): PolicyRequest {
  const id = parseSpiffeId(req.principal);
  // Each cluster is its own trust domain (DESIGN.md), named after the cluster: east.acme.internal → east.
  const cluster = id.trustDomain.split('.')[0] as string;
  const slash = req.resource.indexOf('/');
  return {
    principal: {
      id: id.id,
      trustDomain: id.trustDomain,
      cluster,
      ...(id.namespace === undefined ? {} : { namespace: id.namespace }),
      ...(id.serviceAccount === undefined ? {} : { serviceAccount: id.serviceAccount }),
    },
    resource: {
      cluster: req.resource.slice(0, slash),
      service: req.resource.slice(slash + 1),
      ...(req.classification === undefined ? {} : { classification: req.classification }),
    },
    context: {
      method: req.method,
      path: req.path,
      sourceCluster: req.sourceCluster ?? cluster,
      ...(req.purpose === undefined ? {} : { purpose: req.purpose }),
    },
  };
}

/** Runs every case of one loaded file. @throws InterlockError if its policy file cannot be read or is not valid Cedar. */
export async function runPolicyTestFile(test: PolicyTestFile): Promise<PolicyTestResult[]> {
  // One clock per file, set per case. A case without `time` gets a clock
  // that fails, so a time-dependent decision can never come from the real time.
  let now: Date | undefined;
  const clock: Clock = {
    now: () => {
      if (now === undefined) throw new Error('the case sets no request.time, but a policy reads context.time');
      return new Date(now.getTime());
    },
  };
  const pdp = new PolicyDecisionPoint(await loadPolicyFile(test.policies), clock);
  return test.cases.map((c) => {
    now = c.request.time === undefined ? undefined : new Date(c.request.time);
    const decision = pdp.decide(toPolicyRequest(c.request));
    const failure = checkCase(c, decision);
    return { file: test.file, name: c.name, passed: failure === undefined, expected: c.expect, decision, ...(failure ? { failure } : {}) };
  });
}

/** Loads and runs the test files at `path` (a file or a folder). */
export async function runPolicyTests(path: string): Promise<PolicyTestReport> {
  const files = await findPolicyTestFiles(path);
  const results: PolicyTestResult[] = [];
  for (const file of files) results.push(...(await runPolicyTestFile(await loadPolicyTestFile(file))));
  const passed = results.filter((r) => r.passed).length;
  return { files: files.length, passed, failed: results.length - passed, results };
}

function checkCase(c: PolicyTestCase, decision: PolicyDecision): string | undefined {
  const actual = decision.allowed ? 'allow' : 'deny';
  if (actual !== c.expect) return `expected ${c.expect}, got ${actual}: ${decision.reason}`;
  if (c.policyIds !== undefined) {
    // Compared as sets: the PDP lists ids in file order, authors need not.
    const want = [...new Set(c.policyIds)].sort();
    const got = [...new Set(decision.policyIds)].sort();
    if (want.join('\n') !== got.join('\n')) {
      return `expected ${c.expect} by [${c.policyIds.join(', ')}], got ${actual} by [${decision.policyIds.join(', ')}]: ${decision.reason}`;
    }
  }
  return undefined;
}

/** `tests/demo.yaml › GET billing` — how a case is named in output. */
export function caseLabel(result: Pick<PolicyTestResult, 'file' | 'name'>): string {
  return `${basename(result.file)} › ${result.name}`;
}
