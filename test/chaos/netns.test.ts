import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cutLink } from '../../src/lab/faults.ts';
import { createNetnsTopology, namespacesOf, netnsUnavailableReason, planNetns, WAN_INTERFACE, type NetnsTopology } from '../../src/lab/netns.ts';

test('the plan puts each cluster in its own namespace on a shared wan, with a lan to the root namespace', () => {
  const plan = planNetns(['east', 'west'], { runId: 'ab12cd', lanOctet: 77 });
  assert.equal(plan.controlPlaneHost, '10.213.77.1');
  assert.deepEqual([...plan.clusters.values()].map((c) => [c.namespace, c.wanHost, c.lanHost, c.serviceHost]), [
    ['il-ab12cd-east', '10.213.0.10', '10.213.77.6', '10.213.77.5'],
    ['il-ab12cd-west', '10.213.0.11', '10.213.77.10', '10.213.77.9'],
  ]);
  const commands = plan.setup.map((argv) => argv.join(' '));
  assert.ok(commands.includes('ip -n il-ab12cd-hub link add br0 type bridge'));
  assert.ok(commands.includes('ip -n il-ab12cd-east addr add 10.213.0.10/24 dev wan0'));
  assert.ok(commands.includes('ip -n il-ab12cd-west route add default via 10.213.77.9'));
  // Interface names created in the root namespace fit in 15 bytes and carry the run id.
  for (const argv of plan.setup.filter((a) => a[1] === 'link' && a[2] === 'add')) assert.ok(argv[3]!.length <= 15 && argv[3]!.includes('ab12cd'), argv.join(' '));
  assert.deepEqual(plan.teardown.map((a) => a.at(-1)), ['il-ab12cd-east', 'il-ab12cd-west', 'il-ab12cd-mallory', 'il-ab12cd-hub']);
  assert.throws(() => planNetns(['east'], { runId: 'Bad-Id!', lanOctet: 1 }), /run id/);
});

const reason = netnsUnavailableReason();

describe('network namespaces (root)', { skip: reason ? `needs root: ${reason}` : false }, () => {
  let topology: NetnsTopology;
  let server: ChildProcess;

  /** A TCP connect from east to west's wan address, from inside east's namespace: 'connected' or why not. */
  const connectAcross = (timeoutMs: number): string => {
    const east = topology.clusters.get('east')!;
    const west = topology.clusters.get('west')!;
    const script = `const s=require('net').connect(7000,'${west.wanHost}',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)});setTimeout(()=>{console.log('timeout');process.exit(0)},${timeoutMs})`;
    return spawnSync(east.exec[0]!, [...east.exec.slice(1), process.execPath, '-e', script], { encoding: 'utf8' }).stdout.trim();
  };

  before(async () => {
    if (reason) console.log(`# skipped: needs root: ${reason}`);
    topology = createNetnsTopology(['east', 'west']);
    const west = topology.clusters.get('west')!;
    server = spawn(west.exec[0]!, [...west.exec.slice(1), process.execPath, '-e', `require('net').createServer((s)=>s.end()).listen(7000,'${west.wanHost}',()=>console.log('listening'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => server.stdout!.once('data', resolve));
  });
  after(() => {
    server?.kill();
    topology?.close();
  });

  test('a cluster reaches another across the wan; a cut link blocks it and healing restores it', async () => {
    assert.equal(connectAcross(2_000), 'connected');
    const fault = cutLink(topology.clusters.get('east')!.exec, WAN_INTERFACE);
    try {
      assert.equal(connectAcross(1_000), 'timeout', 'packets vanish on a cut link: no refusal, no connection');
    } finally {
      await fault.heal();
    }
    assert.equal(connectAcross(2_000), 'connected');
  });

  test('the root namespace reaches each cluster over its lan, but not the wan', () => {
    const east = topology.clusters.get('east')!;
    const routes = spawnSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' }).stdout;
    assert.ok(routes.includes(east.serviceHost), 'a connected route to east\'s lan');
    assert.ok(!routes.includes('10.213.0.0/24'), 'the wan exists only inside the lab namespaces');
  });

  test('closing removes every namespace and veth of the run', async () => {
    const runId = topology.runId;
    assert.equal(namespacesOf(runId).length, 4);
    // A namespace lives while a process is in it: stop ours first, as the lab stops its gateways.
    const exited = new Promise((r) => server.once('exit', r));
    server.kill();
    await exited;
    topology.close();
    assert.deepEqual(namespacesOf(runId), []);
    // The kernel frees a deleted namespace's devices asynchronously.
    const leftover = () => spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.includes(`il${runId}`);
    for (let i = 0; i < 50 && leftover(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!leftover(), 'no veth of the run left in the root namespace');
  });
});
