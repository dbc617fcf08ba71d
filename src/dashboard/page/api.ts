/** The page's only I/O: JSON from this origin's API with the admin token. */

const TOKEN_KEY = 'interlock.dashboard.token';

/** A refusal from the control plane, with its stable IL_ERR_* code. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// sessionStorage: the token lives as long as the tab, is not sent anywhere by itself (unlike a cookie) and is gone when the tab closes.
export const savedToken = (): string => sessionStorage.getItem(TOKEN_KEY) ?? '';
export const saveToken = (token: string): void => sessionStorage.setItem(TOKEN_KEY, token);
export const forgetToken = (): void => sessionStorage.removeItem(TOKEN_KEY);

export async function getJson<T>(path: string, token: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, cache: 'no-store' });
  } catch (error) {
    throw new ApiError('NETWORK', `the control plane could not be reached (${(error as Error).message})`, 0);
  }
  const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  if (!response.ok) throw new ApiError(body?.error?.code ?? `HTTP_${response.status}`, body?.error?.message ?? response.statusText, response.status);
  return body as T;
}
