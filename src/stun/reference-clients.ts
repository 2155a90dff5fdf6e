// coturn's command-line clients as the first step of a STUN/TURN finding names them, with the
// options they really have (coturn 4.6): `turnutils_stunclient` speaks UDP only (-p, -L, -f), so a
// TCP or TLS server is tried with `turnutils_uclient`, which needs -y (or a peer with -e) before it
// sends anything. A test runs these exact commands against the coturn lab.
import type { StunTransport } from './uri.ts';

function transportFlags(transport: StunTransport): string {
  return transport === 'tcp' ? ' -t' : transport === 'tls' ? ' -t -S' : '';
}

/** A plain reachability test of a STUN server: a Binding over UDP, an Allocate over TCP/TLS. */
export function stunClientCommand(transport: StunTransport, host: string, port: number): string {
  if (transport === 'udp') return `turnutils_stunclient -p ${port} ${host}`;
  return `turnutils_uclient${transportFlags(transport)} -y -n 1 -p ${port} ${host}`;
}

/** How to read stunClientCommand's output over TCP/TLS, where it sends an Allocate, not a Binding. */
export function stunClientReading(transport: StunTransport): string {
  if (transport === 'udp') return '';
  return ` (turnutils_stunclient speaks UDP only; this sends a TURN Allocate over ${transport.toUpperCase()}: "Cannot complete Allocation" means the server answered, "cannot connect to remote addr" means nothing listens, no output means the packets are dropped)`;
}

/** An allocation and a relay round trip with credentials, as turn-allocate does it. */
export function turnClientCommand(transport: StunTransport, host: string, port: number): string {
  return `turnutils_uclient${transportFlags(transport)} -y -n 1 -u USER -w PASS -p ${port} ${host}`;
}
