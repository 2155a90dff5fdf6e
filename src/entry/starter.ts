// What `dialer-audit init` writes: a commented starter config that `dialer-audit validate` accepts
// as it stands (no secret is needed until you uncomment a reporter). A unit test holds it to that.
export const STARTER_CONFIG = `# dialer-audit config — written by \`dialer-audit init\`. Edit, then:
#   dialer-audit validate --config dialer-audit.yaml
#   dialer-audit audit --config dialer-audit.yaml            # a dry run: prints, changes nothing
#   dialer-audit daemon --config dialer-audit.yaml           # the same audit every five minutes
# Secrets are never written here: use env:NAME, or ssm:/path/name (Lambda and the daemon).

# The public resolvers your customers use: host[:port], IPv6 in brackets ("[2001:4860:4860::8888]").
resolvers:
  - { name: google, address: 8.8.8.8 }
  - { name: cloudflare, address: 1.1.1.1 }
  - { name: quad9, address: 9.9.9.9 }
  - { name: opendns, address: 208.67.222.222 }
  # A resolver of your own whose answers depend on where it asks from (geo/latency records):
  # - { name: office, address: 10.0.0.53, egress: ["198.51.100.0/24"] }

# Optional: the zone's authoritative servers; default: its NS records, queried without recursion.
# authoritative:
#   - { name: ns1, address: 205.251.192.1 }

targets:
  # Every dialer subdomain to audit.
  dialers:
    - acme.dialer.example.com
  # Or find them in Route 53 hosted zones (needs AWS credentials):
  # zones:
  #   - { route53ZoneId: Z0123456789ABCDEFGHIJ, match: "*.dialer.example.com" }

checks:
  # Does what each resolver hands out match what the zone holds?
  dns-consistency: { recordTypes: [A, AAAA] }
  # Dialer TTLs at most 300 s, so a bad cached answer cannot live for a day.
  ttl-policy: { maxTtl: 300 }
  # STUN/TURN servers the webphones use (list them under stun.servers) and SIP trunks (carriers):
  # stun-binding: {}
  # sip-options: {}

# stun:
#   servers:
#     - { uri: "stun:stun.example.net:3478" }
# carriers:
#   - { name: carrier-a, uri: "sip:sip.carrier-a.example:5060", transports: [udp, tcp] }

# Per resolver, far below public resolvers' limits (Google allows ~1500 qps per client).
dns:
  timeout: 1500ms
  retries: 2
  qps: 100

run:
  budget: 240s          # the whole run; Lambda uses its remaining time instead when shorter
  failOn: warning       # exit 1 when a finding is at or above this severity
  # vantage: office-berlin   # where this run looks from; Lambda uses its region

# TTL fixes through Route 53: off | plan (print the plan) | apply (Lambda and the daemon change TTLs).
fix:
  mode: plan
  maxChanges: 100       # per fix.window: this run's plan plus what earlier --fix runs applied
  window: 24h

# Tell people once per problem, not every five minutes.
alerting:
  failureThreshold: 2
  successThreshold: 2
  reminderInterval: 4h
state:
  file: .dialer-audit/state.json
  history: { retention: 14d }   # the run history beside it (uptime and trends of the status page)

# reporters:
#   slack: { webhookUrl: env:SLACK_WEBHOOK_URL }
#   email:
#     smtp: { host: smtp.example.com, port: 587, user: env:SMTP_USER, pass: ssm:/dialer-audit/prod/smtp-pass }
#     from: dialer-audit@example.com
#     to: [voice-oncall@example.com]
#   html: { dir: /var/www/dialer-status }   # the status page after every notifying run (or s3: { bucket, prefix })

# \`dialer-audit daemon\`: cron with an optional seconds field; one run at a time.
daemon:
  schedule: "*/5 * * * *"
  grace: 30s              # on SIGTERM: let the current run finish this long, then abort it
  # healthz: { port: 9464, address: 127.0.0.1 }   # also serves the status page at /status
`;
