import http from 'node:http';

/** GET a JSON document from a gateway's admin port (health, readiness). */
export function getAdminJson<T>(admin: { host: string; port: number }, path: string): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    http
      .get({ ...admin, path }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T }));
      })
      .on('error', reject);
  });
}
