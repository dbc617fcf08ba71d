/**
 * The one contract every Store implementation passes (DESIGN.md, style 5).
 * `open` must return a fresh, empty store each time; the suites migrate it.
 */
import { describe } from 'node:test';
import type { Store } from '../../src/store/types.ts';
import { catalogContract } from './contract-catalog.ts';
import { logContract } from './contract-logs.ts';
import { registryContract } from './contract-registry.ts';
import { transactionContract } from './contract-tx.ts';

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    registryContract(open);
    logContract(open);
    transactionContract(open);
    catalogContract(open);
  });
}
