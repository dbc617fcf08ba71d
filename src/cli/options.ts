import { resolve } from 'node:path';
import type { Command } from 'commander';
import { resolveKeySecret, type KeySecret } from '../pki/key-protection.ts';
import { CertificateAuthority } from '../pki/authority.ts';
import { systemClock } from '../clock.ts';

/** Where the CA and its files live, unless --dir says otherwise. */
export const DEFAULT_STATE_DIR = '.interlock';
export const STATE_DIR_ENV = 'INTERLOCK_HOME';

export function withStateDir(command: Command): Command {
  return command.option('--dir <dir>', `state folder (default $${STATE_DIR_ENV} or ./${DEFAULT_STATE_DIR})`);
}

export function stateDir(options: { dir?: string }): string {
  return resolve(options.dir ?? process.env[STATE_DIR_ENV] ?? DEFAULT_STATE_DIR);
}

export function withSecret(command: Command): Command {
  return command
    .option('--passphrase-file <file>', 'file holding the passphrase that seals CA keys (or set INTERLOCK_CA_PASSPHRASE)')
    .option('--key-file <file>', 'file holding a 32-byte base64 key that seals CA keys (see: interlock ca keygen)');
}

export function secretFrom(options: { passphraseFile?: string; keyFile?: string }): KeySecret {
  return resolveKeySecret({
    ...(options.passphraseFile ? { passphraseFile: options.passphraseFile } : {}),
    ...(options.keyFile ? { keyFile: options.keyFile } : {}),
    env: process.env,
  });
}

export interface CaOptions {
  dir?: string;
  passphraseFile?: string;
  keyFile?: string;
}

/** Opens the CA of the state folder; a missing CA is reported before a missing secret. */
export function openCa(options: CaOptions): Promise<CertificateAuthority> {
  return CertificateAuthority.open(stateDir(options), () => secretFrom(options), systemClock);
}
