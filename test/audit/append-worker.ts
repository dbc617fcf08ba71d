/**
 * Child process for the concurrency test: appends N records to one audit log.
 * It says "ready" and waits for a line on stdin before appending, so the
 * parent can start both writers at the same moment and they truly contend.
 */
import { AuditLog } from '../../src/audit/chain-file.ts';

const [path, countText, writer] = process.argv.slice(2);
if (path === undefined || countText === undefined || writer === undefined) {
  process.stderr.write('usage: append-worker.ts <path> <count> <writer>\n');
  process.exit(2);
}
const log = new AuditLog(path);
process.stdin.once('data', () => {
  for (let i = 0; i < Number(countText); i += 1) {
    log.append({ type: 'test.concurrent', actor: writer, data: { i } });
  }
  process.exit(0);
});
process.stdout.write('ready\n');
