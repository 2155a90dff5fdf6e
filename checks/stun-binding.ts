// stun-binding: does every STUN/TURN server the fleet relies on answer a Binding request, from every
// resolver's view of its name, over every transport it offers? The 2020 outage was a STUN server
// handing webphones bogus answers while nobody looked.
import { z } from 'zod';
import { STUN_CODES } from '../src/stun/codes.ts';
import { probeStunServer, serverToProbe, type ServerToProbe } from '../src/stun/probe.ts';
import { durationParam, probeParamShape } from '../src/stun/params.ts';
import { formatIceUri } from '../src/stun/uri.ts';
import type { Check, Target } from '../src/types.ts';

const ID = 'stun-binding';

const params = z.strictObject({
  ...probeParamShape,
  /** Answers slower than this (from the first transmission) are STUN_SLOW. */
  slowAfter: durationParam.default(500),
  /** TURN servers answer Binding too, and browsers use them for server-reflexive candidates. */
  includeTurn: z.boolean().default(true),
  /** Run on a dialer host: the reflexive address must be this IP, or one of this name's addresses. */
  expectMappedAddress: z.string().min(1).optional(),
});
type Params = z.output<typeof params>;

interface ServerTarget extends Target {
  data: ServerToProbe;
}

export const stunBinding: Check<Params, ServerTarget> = {
  id: ID,
  description: 'Sends a STUN Binding request to every address of every configured STUN/TURN server over each of its transports; compares the server name across resolvers.',
  params,
  codes: STUN_CODES,
  targets(_inventory, p, config) {
    const out: ServerTarget[] = [];
    for (const s of config.stun?.servers ?? []) {
      const server = serverToProbe(s);
      if (!server || (server.uri.isTurn && !p.includeTurn)) continue;
      out.push({ name: formatIceUri(server.uri), data: server });
    }
    return out;
  },
  run(target, p, ctx) {
    return probeStunServer(ctx, ID, target.data, p);
  },
};
