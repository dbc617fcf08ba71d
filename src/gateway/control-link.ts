import type { ApiConnection } from '../client/api.ts';
import { watchControlPlane, type WatchEvent } from '../client/watch.ts';
import type { IdentitySource } from './identity-source.ts';

/**
 * The gateway's one connection to the control plane's watch stream, shared
 * by everything that follows it (policy bundles, revocations): each
 * subscribes to the event types it cares about and is told when the stream
 * reconnects, since events may have been missed while it was down.
 */
export interface ControlLink {
  connection(): ApiConnection;
  on(types: readonly string[], handler: (event: WatchEvent) => void): void;
  onReconnect(handler: () => void): void;
  close(): void;
}

export function openControlLink(options: { server: string; serverId?: string; identity: IdentitySource }): ControlLink {
  const handlers: Array<{ types: ReadonlySet<string>; handler: (event: WatchEvent) => void }> = [];
  const reconnectHandlers: Array<() => void> = [];
  let watch: { close(): void } | undefined;
  const connection = (): ApiConnection => {
    const current = options.identity.current;
    return { server: options.server, bundlePem: current.bundlePem, certPem: current.certPem, keyPem: current.keyPem, ...(options.serverId ? { serverId: options.serverId } : {}) };
  };
  const start = () => {
    watch ??= watchControlPlane({
      server: options.server,
      ...(options.serverId ? { serverId: options.serverId } : {}),
      credentials: () => options.identity.current,
      onEvent: (event) => handlers.filter((h) => h.types.has(event.type)).forEach((h) => h.handler(event)),
      onConnection: (connected) => {
        if (connected) reconnectHandlers.forEach((handler) => handler());
      },
    });
  };
  return {
    connection,
    on: (types, handler) => {
      handlers.push({ types: new Set(types), handler });
      start();
    },
    onReconnect: (handler) => reconnectHandlers.push(handler),
    close: () => watch?.close(),
  };
}
