/**
 * The rule for code running inside `store.transaction(fn)`: use the `tx`
 * argument, never the outer store. On SQLite the outer store waits for the
 * store mutex that the transaction holds, so such a call would wait forever;
 * on PostgreSQL it would run on another connection, outside the transaction,
 * and could wait forever on a lock the transaction holds. Either way the bug
 * is silent, so it is detected (AsyncLocalStorage follows the async calls
 * made from `fn`) and fails at once with IL_ERR_INTERNAL.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InterlockError } from '../errors.ts';

interface OpenTransaction {
  readonly owner: object;
  open: boolean;
}

const current = new AsyncLocalStorage<OpenTransaction>();

export interface TransactionScope {
  /** Runs `fn` with this transaction marked open in its async context. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** After this, calls on the transaction's ops fail instead of running outside it. */
  close(): void;
  /** Throws if the transaction has ended (a `tx` kept and used after `fn` returned). */
  assertOpen(): void;
}

export function transactionScope(owner: object): TransactionScope {
  const state: OpenTransaction = { owner, open: true };
  return {
    run: (fn) => current.run(state, fn),
    close: () => {
      state.open = false;
    },
    assertOpen: () => {
      if (!state.open) {
        throw new InterlockError('IL_ERR_INTERNAL', 'this transaction has already ended; its tx object cannot be used any more', { field: 'tx' });
      }
    },
  };
}

/** Throws if called from inside an open transaction of `owner` (see the module comment). */
export function assertNotInTransaction(owner: object): void {
  const tx = current.getStore();
  if (tx !== undefined && tx.open && tx.owner === owner) {
    throw new InterlockError('IL_ERR_INTERNAL', 'the store was called from inside its own transaction; use the tx argument instead (this call would deadlock)', {
      field: 'tx',
    });
  }
}
