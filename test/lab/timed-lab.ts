// Starts test/lab/timed_server.py: a SIP/STUN server in a process of its own that reads the kernel's
// receive timestamp of every request (Node cannot) and notes when its answer went to the socket.
// A client's RTT minus (answeredAt - receivedAt) is then the client's own delay. Loopback
// 127.80.0.0/16 only; stopped by closing its stdin (SIGKILL by pid if it does not exit).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface TimedListen {
  protocol: 'sip' | 'stun';
  transport: 'udp' | 'tcp';
  address: string;
  port: number;
}

export interface TimedRecord {
  protocol: 'sip' | 'stun';
  transport: 'udp' | 'tcp';
  /** address:port of the server socket. */
  server: string;
  /** Call-ID (SIP) or transaction id in hex (STUN). */
  key: string;
  bytes: number;
  /** Kernel receive time of the request, ms. */
  receivedAt: number;
  /** When the answer was handed to the socket, ms (same clock). */
  answeredAt: number;
}

export interface TimedLab {
  records(): Promise<TimedRecord[]>;
  clear(): Promise<void>;
  stop(): Promise<void>;
}

const SERVER = fileURLToPath(new URL('./timed_server.py', import.meta.url));

export async function startTimedLab(listen: TimedListen[]): Promise<TimedLab> {
  for (const l of listen) if (!/^127\.80\.\d{1,3}\.\d{1,3}$/.test(l.address)) throw new Error(`timed lab address ${l.address} is outside 127.80.0.0/16`);
  const child = spawn('python3', [SERVER, ...listen.map((l) => `${l.protocol}/${l.transport}/${l.address}:${l.port}`)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      waiting.push(resolve);
      exited.then(() => reject(new Error(`timed lab server exited: ${stderr}`)));
    });
  const first = await nextLine();
  if (first !== 'listening') throw new Error(`timed lab server did not start: ${first} ${stderr}`);
  const ask = (command: string) => {
    const line = nextLine();
    child.stdin.write(`${command}\n`);
    return line;
  };
  return {
    records: async () => JSON.parse(await ask('records')) as TimedRecord[],
    clear: async () => void (await ask('clear')),
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
