/**
 * The one registry of Interlock errors. Every code here is documented in
 * docs/errors.md (test/errors.test.ts keeps the two equal). Codes are stable:
 * operators grep for them and alert on them, so never rename one.
 */

export interface ErrorSpec {
  /** HTTP status a gateway or API answers with. */
  readonly status: number;
  /** One line saying what went wrong, for docs and `--help`. */
  readonly title: string;
}

export const ERRORS = {
  IL_ERR_INTERNAL: { status: 500, title: 'An unexpected internal failure' },
  IL_ERR_USAGE: { status: 400, title: 'A command was called with missing or malformed arguments' },

  IL_ERR_CONFIG_NOT_FOUND: { status: 400, title: 'A configuration file could not be read' },
  IL_ERR_CONFIG_INVALID: { status: 400, title: 'A configuration value is malformed or out of range' },
  IL_ERR_CONFIG_UNKNOWN_KEY: { status: 400, title: 'A configuration file has a key the schema does not know' },
  IL_ERR_DEPLOY_MANIFEST_INVALID: { status: 400, title: 'A rendered Kubernetes object does not pass the Kubernetes API schema; the object and field are named' },

  IL_ERR_SPIFFE_ID_INVALID: { status: 400, title: 'A SPIFFE ID does not follow the SPIFFE ID specification' },
  IL_ERR_SPIFFE_ID_OUT_OF_DOMAIN: { status: 400, title: "A SPIFFE ID is not in the cluster's trust domain" },

  IL_ERR_CA_NOT_INITIALIZED: { status: 400, title: 'No CA exists in the state folder yet' },
  IL_ERR_CA_ALREADY_INITIALIZED: { status: 409, title: 'A CA already exists in the state folder' },
  IL_ERR_CLUSTER_NAME_INVALID: { status: 400, title: 'A cluster name or trust domain is malformed' },
  IL_ERR_CLUSTER_UNKNOWN: { status: 404, title: 'No cluster of that name has been added to the CA' },
  IL_ERR_CLUSTER_EXISTS: { status: 409, title: 'A cluster of that name already exists' },
  IL_ERR_TTL_INVALID: { status: 400, title: 'A certificate lifetime is malformed or outside the allowed range' },

  IL_ERR_KEY_SECRET_MISSING: { status: 400, title: 'No passphrase or key file was given to protect CA keys' },
  IL_ERR_KEY_UNREADABLE: { status: 400, title: 'A key, passphrase or key file could not be read or parsed' },
  IL_ERR_KEY_DECRYPT_FAILED: { status: 400, title: 'An encrypted key could not be decrypted (wrong passphrase or key file, or altered data)' },

  IL_ERR_CERT_MALFORMED: { status: 400, title: 'A certificate or bundle could not be parsed' },
  IL_ERR_CERT_EXPIRED: { status: 401, title: 'A certificate in the chain has expired' },
  IL_ERR_CERT_NOT_YET_VALID: { status: 401, title: 'A certificate in the chain is not valid yet' },
  IL_ERR_CERT_UNTRUSTED: { status: 401, title: 'A certificate chain does not lead to the trust bundle' },
  IL_ERR_CERT_NAME_CONSTRAINT: { status: 401, title: "A certificate names an identity outside its issuer's name constraints" },
  IL_ERR_CERT_KEY_USAGE: { status: 401, title: 'A certificate has key usages that do not fit its place in the chain' },
  IL_ERR_SVID_INVALID: { status: 401, title: 'A certificate is not a valid X.509-SVID' },

  IL_ERR_AUTHN_NOT_A_GATEWAY: { status: 403, title: 'The inbound listener was reached by a peer that is not a remote gateway' },
  IL_ERR_AUTHN_NOT_LOCAL: { status: 403, title: "The outbound listener was reached by a workload outside the gateway's trust domain" },
  IL_ERR_SIGNATURE_INVALID: { status: 401, title: 'A critical route needs an HTTP Message Signature (RFC 9421) with Content-Digest by the calling workload, and it is missing, stale, replayed or does not verify' },
  IL_ERR_REPLAY_DETECTED: { status: 401, title: 'A one-time request token (identity assertion jti) was presented a second time' },
  IL_ERR_REPLAY_GUARD_FULL: { status: 503, title: "The gateway's replay guard is full of unexpired tokens, so it refuses new ones (fail closed)" },
  IL_ERR_IDENTITY_ASSERTION_INVALID: { status: 401, title: 'The workload identity carried by a remote gateway is missing, forged or stale' },

  IL_ERR_POLICY_INVALID: { status: 400, title: 'A policy file is not valid Cedar' },
  IL_ERR_POLICY_DENIED: { status: 403, title: 'The policy does not allow this call' },
  IL_ERR_POLICY_EVALUATION_FAILED: { status: 403, title: 'Policy evaluation failed, so the call is denied (fail closed)' },
  IL_ERR_POLICY_EXPIRED: { status: 403, title: "The gateway's policy bundle has expired and could not be refreshed, so every call is denied (fail closed)" },
  IL_ERR_POLICY_UNAVAILABLE: { status: 403, title: 'The gateway has no valid policy bundle yet, so every call is denied (fail closed)' },
  IL_ERR_POLICY_BUNDLE_INVALID: { status: 400, title: 'A policy bundle is malformed, its signature does not verify, or its signer is not the control plane' },
  IL_ERR_POLICY_BUNDLE_DOWNGRADE: { status: 409, title: 'A policy bundle is older than the one the gateway already enforces' },

  IL_ERR_BODY_TOO_LARGE: { status: 413, title: 'The request body is larger than the gateway accepts (limits.maxBodyBytes)' },
  IL_ERR_PEER_CONNECTION_LIMIT: { status: 429, title: 'A peer already holds as many connections to the listener as it may (limits.maxConnectionsPerPeer)' },
  IL_ERR_ROUTE_INVALID_HOST: { status: 400, title: 'The request does not name a target as <service>.<cluster>.interlock' },
  IL_ERR_ROUTE_UNKNOWN_CLUSTER: { status: 404, title: 'The request names a cluster this gateway has no peer for' },
  IL_ERR_ROUTE_UNKNOWN_SERVICE: { status: 404, title: 'The request names a service this cluster does not export' },
  IL_ERR_ROUTE_PATH_AMBIGUOUS: { status: 400, title: 'The request path is not in canonical form (//, a dot segment, a backslash, a ; parameter, a # fragment, or a needless or slash percent-escape)' },
  IL_ERR_PEER_UNAVAILABLE: { status: 502, title: 'The remote gateway could not be reached or refused the handshake' },
  IL_ERR_PEER_CIRCUIT_OPEN: { status: 503, title: 'The remote gateway failed repeatedly, so requests to it fail fast until a probe succeeds' },
  IL_ERR_UPSTREAM_UNAVAILABLE: { status: 502, title: 'The local service behind the gateway could not be reached' },
  IL_ERR_UPSTREAM_TIMEOUT: { status: 504, title: 'The local service or remote gateway did not answer in time' },

  IL_ERR_AUDIT_LOG_UNREADABLE: { status: 500, title: 'An audit log could not be read or written' },
  IL_ERR_AUDIT_CHAIN_BROKEN: { status: 500, title: 'An audit record was altered, removed or reordered' },
  IL_ERR_AUDIT_BATCH_REFUSED: { status: 409, title: "A gateway's audit batch holds an altered record, or does not continue the chain the control plane holds for that stream" },

  IL_ERR_STORE_UNAVAILABLE: { status: 503, title: 'The store (SQLite file or PostgreSQL server) cannot be reached or opened' },
  IL_ERR_STORE_MIGRATION_FAILED: { status: 500, title: 'A schema migration failed or the schema is newer than this program' },
  IL_ERR_ENTRY_EXISTS: { status: 409, title: 'A registration entry for that SPIFFE ID already exists in the cluster' },
  IL_ERR_ENTRY_UNKNOWN: { status: 404, title: 'No registration entry has that id' },
  IL_ERR_ADMIN_EXISTS: { status: 409, title: 'An admin of that name already exists' },
  IL_ERR_DECLARATIVE_INVALID: { status: 400, title: 'A declarative configuration (interlock apply/diff -f) is invalid; the file, document and field are named, and nothing was applied' },
  IL_ERR_DECLARATIVE_CONFLICT: { status: 409, title: 'The control plane changed after the configuration was planned (another apply, or a change through the API), so nothing was applied' },

  IL_ERR_REQUEST_INVALID: { status: 400, title: 'An API request does not match its schema; the field is named' },
  IL_ERR_NOT_FOUND: { status: 404, title: 'No such API route or object' },
  IL_ERR_AUTHN_REQUIRED: { status: 401, title: 'The API call needs a client certificate or an admin token, and none valid was given' },
  IL_ERR_ROLE_FORBIDDEN: { status: 403, title: "The admin's roles do not allow this action" },
  IL_ERR_SEPARATION_OF_DUTIES: { status: 403, title: 'The same person may not both propose and approve a change' },
  IL_ERR_POLICY_STATE_CONFLICT: { status: 409, title: 'The policy version is not in a state that allows this step' },

  IL_ERR_ATTESTATION_TOKEN_UNKNOWN: { status: 401, title: 'The join token is not known (mistyped, or never issued)' },
  IL_ERR_ATTESTATION_TOKEN_USED: { status: 401, title: 'The join token was already used; join tokens are single-use' },
  IL_ERR_ATTESTATION_TOKEN_EXPIRED: { status: 401, title: 'The join token has expired' },
  IL_ERR_ATTESTATION_K8S_INVALID: { status: 401, title: 'The Kubernetes service-account token failed verification (signature, issuer, audience or expiry)' },
  IL_ERR_ATTESTATION_NO_ENTRY: { status: 403, title: 'No registration entry matches the attested workload' },
  IL_ERR_CSR_INVALID: { status: 400, title: 'A certificate signing request is malformed, has a bad signature or an unsupported key' },
  IL_ERR_SVID_REVOKED: { status: 401, title: 'The presented SVID has been revoked' },

  IL_ERR_ROTATION_IN_PROGRESS: { status: 409, title: 'Another CA rotation (or rotation step) is in progress' },
  IL_ERR_ROTATION_NOT_READY: { status: 409, title: "A CA rotation step's check has not passed yet (gateways have not confirmed, or old SVIDs are still valid)" },
  IL_ERR_ROTATION_STATE: { status: 409, title: 'No CA rotation is in progress, or it is at another step than the one asked for' },

  IL_ERR_EVIDENCE_INVALID: { status: 400, title: "An evidence bundle or audit checkpoint is malformed, or its signature or signer does not verify" },
  IL_ERR_INCIDENT_UNKNOWN: { status: 404, title: 'No incident has that id' },
  IL_ERR_ALERT_WEBHOOK_FAILED: { status: 502, title: 'The alert webhook did not accept a notification after every retry; it is kept and sent again after the next evaluation' },
  IL_ERR_PEER_ISOLATED: { status: 403, title: 'The peer cluster is isolated after a compromise; its links stay cut until the incident is resolved' },

  IL_ERR_THREAT_MODEL_INVALID: { status: 400, title: 'docs/threat-model.md does not follow the threat format the risk register reads; the line is named' },
  IL_ERR_REPORT_INPUT_INVALID: { status: 400, title: 'A file a report reads (--services, test results, a chaos result) is malformed; the file is named' },

  IL_ERR_LAB_FAILED: { status: 500, title: 'The lab could not start or a demo call had an unexpected outcome' },
  IL_ERR_LAB_NETNS_UNAVAILABLE: { status: 400, title: 'The network-namespace lab needs root and `ip netns` on Linux' },
  IL_ERR_LAB_NETNS_FAILED: { status: 500, title: 'A command that builds the lab network, injects a fault or captures the wire failed' },
  IL_ERR_CHAOS_UNKNOWN_EXPERIMENT: { status: 400, title: 'No chaos experiment has that name' },
  IL_ERR_CHAOS_INVARIANT_FAILED: { status: 500, title: 'A chaos experiment broke one of its invariants' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorDetails {
  /** The configuration key, flag, header or certificate field the error concerns. */
  readonly field?: string;
  /** What the user can do about it. */
  readonly hint?: string;
  readonly cause?: unknown;
}

/** Base class of every error Interlock raises on purpose. */
export class InterlockError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'InterlockError';
    this.code = code;
    this.field = details.field;
    this.hint = details.hint;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  /** One line for terminals and logs: code, message, field, hint. Never a stack. */
  toLine(): string {
    const field = this.field ? ` [${this.field}]` : '';
    const hint = this.hint ? ` (hint: ${this.hint})` : '';
    return `${this.code}: ${this.message}${field}${hint}`;
  }

  toJSON(): { code: ErrorCode; message: string; field?: string; hint?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.field ? { field: this.field } : {}),
      ...(this.hint ? { hint: this.hint } : {}),
    };
  }
}

export function isInterlockError(value: unknown): value is InterlockError {
  return value instanceof InterlockError;
}

/** Wraps anything thrown into an InterlockError, keeping codes that already exist. */
export function toInterlockError(value: unknown, fallback: ErrorCode = 'IL_ERR_INTERNAL'): InterlockError {
  if (value instanceof InterlockError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new InterlockError(fallback, message, { cause: value });
}
