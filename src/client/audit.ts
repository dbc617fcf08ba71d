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

/** The gateways' audit streams the control plane holds, with their heads (role auditor). */
export async function listGatewayStreams(connection: ApiConnection): Promise<Array<{ stream: string; seq: number; hash: string }>> {
  return (await apiRequest<Array<{ stream: string; seq: number; hash: string }>>(connection, 'GET', '/v1/audit/streams')).body;
}

/** Every record of one gateway stream, oldest first (role auditor). */
export async function fetchGatewayStream(connection: ApiConnection, stream: string): Promise<unknown[]> {
  const records: unknown[] = [];
  for (;;) {
    const { body } = await apiRequest<unknown[]>(connection, 'GET', `/v1/audit/streams/${encodeURIComponent(stream)}?after=${records.length}&limit=${PAGE}`);
    records.push(...body);
    if (body.length < PAGE) return records;
  }
}
