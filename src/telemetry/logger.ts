import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino). Secrets never reach a log line: the redact
 * list names every field that could carry key material or tokens, as a
 * second line of defence behind code that never logs them.
 */
/** Field names that may carry a secret: key material, tokens, passphrases, CSRs, identity assertions. */
const SECRET_FIELDS = ['key', 'keyPem', 'privateKey', 'sealedKey', 'passphrase', 'password', 'token', 'tokens', 'secret', 'csr', 'authorization', 'cookie'];
const SECRET_HEADERS = ['authorization', 'cookie', 'interlock-identity', 'proxy-authorization'];
/** pino's redact paths: each secret field at the top level and one or two levels down, and the secret headers of a logged request. */
export const REDACTED_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  ...SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `req.headers["${h}"]`, `request.headers["${h}"]`]),
];

export function createLogger(options: { name: string; level?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.INTERLOCK_LOG_LEVEL ?? 'info',
      base: { component: options.name },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination as pino.DestinationStream | undefined) ?? pino.destination(1),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
