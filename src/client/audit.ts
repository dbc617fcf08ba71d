import { apiRequest, type ApiConnection } from './api.ts';

const PAGE = 1000;

/** Every record of the control plane's audit chain, oldest first, read page by page (role auditor). */
export async function fetchControlPlaneAudit(connection: ApiConnection): Promise<unknown[]> {
  const records: unknown[] = [];
  for (;;) {
    const { body } = await apiRequest<unknown[]>(connection, 'GET', `/v1/audit?after=${records.length}&limit=${PAGE}`);
    records.push(...body);
    if (body.length < PAGE) return records;
  }
}
