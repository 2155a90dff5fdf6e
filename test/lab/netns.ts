// Lab: the fragmentation black hole of INC-979, reproduced with two network namespaces joined by
// a veth pair (MTU 1500). The receiver drops every IP fragment in nft at prerouting priority -500,
// before the kernel reassembles them (an iptables rule in INPUT never sees a fragment). Addresses
// come from 198.18.0.0/15 and exist only inside the namespaces; neither namespace has a default
// route or IPv6, so nothing in them can reach anything but the other end of the veth.
// Needs root (CI runs as root).
import { execFile as execFileCb, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const execFile = promisify(execFileCb);

export const SENDER_ADDRESS = '198.18.0.1';
export const RECEIVER_ADDRESS = '198.18.0.2';
const PREFIX = 'dasip';
const NFT_TABLE = 'dialer_audit_frag';

export interface FragLab {
  sender: string;
  receiver: string;
  senderAddress: string;
  receiverAddress: string;
  /** Drop (true) or pass (false) IP fragments arriving at the receiver. */
  dropFragments(on: boolean): void;
  /** Packets the nft rule dropped so far (0 when the rule is off). */
  droppedFragments(): number;
  /** Run a node script (TypeScript through tsx) inside the sender namespace; resolves with its stdout. */
  runInSender(script: string, args: string[], timeoutMs: number): Promise<string>;
  destroy(): void;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function inNs(ns: string, command: string, args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, command, ...args], { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Namespaces left behind by a test process that was killed before its afterAll. */
export function removeStaleNamespaces(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const m = new RegExp(`^(${PREFIX}-(?:tx|rx)-(\\d+))\\b`).exec(line.trim());
    if (m && !alive(Number(m[2]))) spawnSync('ip', ['netns', 'del', m[1]]);
  }
}

export function createFragLab(): FragLab {
  if (process.getuid?.() !== 0) throw new Error('the fragmentation lab needs root (ip netns, nft); CI runs as root');
  removeStaleNamespaces();
  const sender = `${PREFIX}-tx-${process.pid}`;
  const receiver = `${PREFIX}-rx-${process.pid}`;
  const vethSender = `${PREFIX}t${process.pid}`.slice(0, 15);
  const vethReceiver = `${PREFIX}r${process.pid}`.slice(0, 15);

  const destroy = () => {
    for (const ns of [sender, receiver]) spawnSync('ip', ['netns', 'del', ns]);
  };

  try {
    ip(['netns', 'add', sender]);
    ip(['netns', 'add', receiver]);
    // Created directly inside the namespaces: the pair never exists in the host's namespace.
    ip(['link', 'add', vethSender, 'netns', sender, 'mtu', '1500', 'type', 'veth', 'peer', 'name', vethReceiver, 'netns', receiver, 'mtu', '1500']);
    for (const [ns, dev, address] of [
      [sender, vethSender, SENDER_ADDRESS],
      [receiver, vethReceiver, RECEIVER_ADDRESS],
    ] as const) {
      inNs(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      ip(['-n', ns, 'addr', 'add', `${address}/30`, 'dev', dev]);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
    // Nothing may route anywhere but across the veth: no default route, no IPv6.
    for (const ns of [sender, receiver]) {
      const routes = execFileSync('ip', ['-n', ns, 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
      const foreign = routes.split('\n').filter((r) => r.trim() && !r.includes('198.18.0.') && !r.includes('127.') && !/^(local|broadcast) /.test(r));
      if (foreign.length > 0 || /default/.test(routes)) throw new Error(`namespace ${ns} has routes beyond its veth:\n${routes}`);
    }
  } catch (err) {
    destroy();
    throw err;
  }

  return {
    sender,
    receiver,
    senderAddress: SENDER_ADDRESS,
    receiverAddress: RECEIVER_ADDRESS,
    dropFragments(on) {
      spawnSync('ip', ['netns', 'exec', receiver, 'nft', 'delete', 'table', 'inet', NFT_TABLE]);
      if (!on) return;
      // 0x3fff = the More-Fragments flag plus the fragment offset: non-zero on every fragment.
      inNs(receiver, 'nft', ['-f', '-'], `table inet ${NFT_TABLE} {
  chain prerouting {
    type filter hook prerouting priority -500; policy accept;
    ip frag-off & 0x3fff != 0 counter drop
  }
}
`);
    },
    droppedFragments() {
      const r = spawnSync('ip', ['netns', 'exec', receiver, 'nft', 'list', 'table', 'inet', NFT_TABLE], { encoding: 'utf8' });
      const m = /counter packets (\d+)/.exec(r.stdout ?? '');
      return m ? Number(m[1]) : 0;
    },
    async runInSender(script, args, timeoutMs) {
      const cwd = fileURLToPath(new URL('../../', import.meta.url));
      const { stdout } = await execFile('ip', ['netns', 'exec', sender, process.execPath, '--import', 'tsx', script, ...args], {
        cwd,
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      });
      return stdout;
    },
    destroy,
  };
}

/** A network namespace of its own with only `lo` up: 127.0.0.0/8 and nothing else, no route out. */
export interface LoneNamespace {
  name: string;
  /** Load an nft ruleset (text for `nft -f -`) inside the namespace. */
  nft(ruleset: string): void;
  /** Run a node script (TypeScript through tsx) inside the namespace; resolves with its stdout. */
  runNode(script: string, args: string[], timeoutMs: number): Promise<string>;
  destroy(): void;
}

export function createLoneNamespace(tag: string): LoneNamespace {
  if (process.getuid?.() !== 0) throw new Error('a network namespace needs root (ip netns, nft); CI runs as root');
  // Namespaces of test processes that were killed before their afterAll.
  for (const line of (spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '').split('\n')) {
    const m = new RegExp(`^(${tag}-(\\d+))\\b`).exec(line.trim());
    if (m && !alive(Number(m[2]))) spawnSync('ip', ['netns', 'del', m[1]]);
  }
  const name = `${tag}-${process.pid}`;
  const destroy = () => void spawnSync('ip', ['netns', 'del', name]);
  try {
    ip(['netns', 'add', name]);
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
    inNs(name, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1']);
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    name,
    nft(ruleset) {
      inNs(name, 'nft', ['-f', '-'], ruleset);
    },
    async runNode(script, args, timeoutMs) {
      const cwd = fileURLToPath(new URL('../../', import.meta.url));
      const { stdout } = await execFile('ip', ['netns', 'exec', name, process.execPath, '--import', 'tsx', script, ...args], { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
      return stdout;
    },
    destroy,
  };
}
