import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino). Secrets never reach a log line: the redact
 * list names every field that could carry key material or tokens, as a
 * second line of defence behind code that never logs them.
 */
export function createLogger(options: { name: string; level?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.INTERLOCK_LOG_LEVEL ?? 'info',
      base: { component: options.name },
      redact: { paths: ['key', 'keyPem', '*.key', '*.keyPem', 'passphrase', 'token', 'headers["interlock-identity"]'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination as pino.DestinationStream | undefined) ?? pino.destination(1),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
