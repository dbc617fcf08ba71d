/** JSON Schema pieces shared by the routes. */

/** A cluster name: a DNS label (RFC 1123), as checkClusterName enforces. */
export const CLUSTER_NAME = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' } as const;
