// Runs one audit in this process and prints the Report as JSON on stdout. The fragmentation test
// starts it inside the sender network namespace (ip netns exec … node --import tsx), because the
// probe's sockets must live there.
import { parseConfig } from '../../src/config.ts';
import { runAudit } from '../../src/audit.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';

const config = parseConfig(JSON.parse(process.argv[2] ?? '{}'));
const report = await runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
process.stdout.write(JSON.stringify(report));
