/**
 * A Route 53 API test double: an HTTP server on 127.0.0.1 (random port) speaking the real
 * REST/XML wire format of the 2013-04-01 API, so the real AWS SDK client runs against it
 * unmodified:
 *
 *   const r53 = await startRoute53Double();
 *   const client = new Route53Client({ endpoint: r53.endpoint, region: 'us-east-1',
 *     credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
 *
 * Operations: ListHostedZones, ListHostedZonesByName, GetHostedZone, ListResourceRecordSets
 * (AWS's order and pagination: MaxItems ≤ 300, IsTruncated, NextRecordName/Type/Identifier),
 * ChangeResourceRecordSets (all-or-nothing, validated as AWS does: TTL with AliasTarget →
 * InvalidInput; DELETE of a missing set, CREATE of an existing one, bad A/AAAA values, names
 * outside the zone, the 1,000-record / 32,000-character limits with UPSERT counted twice →
 * InvalidChangeBatch; routing fields: a SetIdentifier needs exactly one routing policy and one
 * policy per name and type) and GetChange (PENDING → INSYNC after `insyncAfterMs`, and after the
 * `onZoneChange` hook finished — which can feed the DNS lab's knot for a closed loop).
 * Errors are AWS's `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`.
 *
 * Fault injection: `failNext(operation, { code, times })` (Throttling, PriorRequestNotComplete …).
 * Observation: `calls` per operation, `changeBatches` as received, `snapshot()` deep copies.
 * Names are stored as Route 53 returns them: lower case, trailing dot, `\052` for `*`.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { RecordSet } from '../../src/types.ts';
import type { ZoneRecord } from './dns-lab.ts';

const NS = 'https://route53.amazonaws.com/doc/2013-04-01/';
const API = '/2013-04-01';
const MAX_PAGE = 300;

export type Operation =
  | 'ListHostedZones'
  | 'ListHostedZonesByName'
  | 'GetHostedZone'
  | 'ListResourceRecordSets'
  | 'ChangeResourceRecordSets'
  | 'GetChange';

export interface Fault {
  code: string;
  message?: string;
  status?: number;
  /** How many calls fail (default 1). */
  times?: number;
  /** Only calls about this zone. */
  zoneId?: string;
}

const FAULT_MESSAGES: Record<string, string> = {
  Throttling: 'Rate exceeded',
  PriorRequestNotComplete: 'The request was rejected because Route 53 was still processing a prior request.',
};

export interface DoubleZone {
  id: string;
  /** With the trailing dot, as Route 53 returns it. */
  name: string;
  privateZone: boolean;
  callerReference: string;
  recordSets: RecordSet[];
}

export interface ChangeBatchSeen {
  zoneId: string;
  comment?: string;
  changes: { action: string; recordSet: RecordSet }[];
  /** The raw XML body, to check what was (not) on the wire. */
  body: string;
}

export interface AddZoneOptions {
  name: string;
  id?: string;
  privateZone?: boolean;
  /** Record sets besides the SOA and NS Route 53 creates (names may be relative to nothing: give FQDNs). */
  recordSets?: RecordSet[];
  /** Route 53's defaults: TTL 900, MINIMUM 86400. */
  soa?: { ttl: number; minimum: number };
}

export interface Route53DoubleOptions {
  /** GetChange reports PENDING for this long after a change (default 0: INSYNC on the first GetChange). */
  insyncAfterMs?: number;
  /** Called after a change committed; the change is INSYNC only once it resolved. */
  onZoneChange?: (zone: DoubleZone) => Promise<void> | void;
}

export interface Route53Double {
  endpoint: string;
  calls: Record<Operation, number>;
  changeBatches: ChangeBatchSeen[];
  addZone(opts: AddZoneOptions): string;
  /** Replace a zone's record sets without validation (e.g. seed a legacy value AWS would now reject). */
  putRecordSets(zoneId: string, recordSets: RecordSet[]): void;
  recordSets(zoneId: string): RecordSet[];
  zone(zoneId: string): DoubleZone;
  /** A deep copy of every zone, for before/after comparisons. */
  snapshot(): DoubleZone[];
  failNext(operation: Operation, fault: Fault): void;
  setInsyncAfter(ms: number): void;
  resetCalls(): void;
  close(): Promise<void>;
}

// ── names and order ───────────────────────────────────────────────────────────────────────

/** As Route 53 stores a name: lower case, trailing dot, octal escapes outside [a-z0-9-_.]. */
export function route53Name(name: string): string {
  const plain = name.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))).toLowerCase();
  const dotted = plain.endsWith('.') ? plain : `${plain}.`;
  return dotted.replace(/[^a-z0-9\-_.]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** ListResourceRecordSets / ListHostedZonesByName order: labels reversed ("com.example.www."). */
function reversedKey(name: string): string {
  return `${route53Name(name).replace(/\.$/, '').split('.').reverse().join('.')}.`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRecordSets(a: RecordSet, b: RecordSet): number {
  return cmp(reversedKey(a.Name), reversedKey(b.Name)) || cmp(a.Type, b.Type) || cmp(a.SetIdentifier ?? '', b.SetIdentifier ?? '');
}

function setKey(r: Pick<RecordSet, 'Name' | 'Type' | 'SetIdentifier'>): string {
  return `${route53Name(r.Name)}|${r.Type}|${r.SetIdentifier ?? ''}`;
}

// ── XML ───────────────────────────────────────────────────────────────────────────────────

interface XmlNode {
  name: string;
  children: XmlNode[];
  text: string;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[e as 'lt']!;
  });
}

/** Enough XML for the SDK's request bodies: elements and text, attributes (xmlns) ignored. */
export function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '#root', children: [], text: '' };
  const stack = [root];
  const re = /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z_][\w.:-]*)([^>]*?)(\/?)>|([^<]+)/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const top = stack[stack.length - 1];
    if (m[1] !== undefined) top.text += m[1];
    else if (m[6] !== undefined) top.text += decodeEntities(m[6]);
    else if (m[3] !== undefined) {
      if (m[2] === '/') {
        if (stack.length < 2 || top.name !== m[3]) throw new Error(`malformed XML: unexpected </${m[3]}>`);
        stack.pop();
      } else {
        const node: XmlNode = { name: m[3], children: [], text: '' };
        top.children.push(node);
        if (m[5] !== '/') stack.push(node);
      }
    }
  }
  if (stack.length !== 1 || root.children.length !== 1) throw new Error('malformed XML document');
  return root.children[0];
}

function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

function textOf(node: XmlNode | undefined, name: string): string | undefined {
  const c = child(node, name);
  return c ? c.text : undefined;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function el(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${typeof value === 'string' ? esc(value) : String(value)}</${name}>`;
}

function recordSetFromXml(n: XmlNode): RecordSet {
  const r: RecordSet = { Name: textOf(n, 'Name') ?? '', Type: textOf(n, 'Type') ?? '' };
  const str = (k: string) => textOf(n, k);
  if (str('SetIdentifier') !== undefined) r.SetIdentifier = str('SetIdentifier');
  if (str('Weight') !== undefined) r.Weight = Number(str('Weight'));
  if (str('Region') !== undefined) r.Region = str('Region');
  const geo = child(n, 'GeoLocation');
  if (geo) r.GeoLocation = Object.fromEntries(geo.children.map((c) => [c.name, c.text]));
  if (str('Failover') !== undefined) r.Failover = str('Failover');
  if (str('MultiValueAnswer') !== undefined) r.MultiValueAnswer = str('MultiValueAnswer') === 'true';
  if (str('TTL') !== undefined) r.TTL = Number(str('TTL'));
  const rrs = child(n, 'ResourceRecords');
  if (rrs) r.ResourceRecords = rrs.children.filter((c) => c.name === 'ResourceRecord').map((c) => ({ Value: textOf(c, 'Value') ?? '' }));
  const alias = child(n, 'AliasTarget');
  if (alias) {
    r.AliasTarget = { HostedZoneId: textOf(alias, 'HostedZoneId') ?? '', DNSName: textOf(alias, 'DNSName') ?? '', EvaluateTargetHealth: textOf(alias, 'EvaluateTargetHealth') === 'true' };
  }
  if (str('HealthCheckId') !== undefined) r.HealthCheckId = str('HealthCheckId');
  if (str('TrafficPolicyInstanceId') !== undefined) r.TrafficPolicyInstanceId = str('TrafficPolicyInstanceId');
  const cidr = child(n, 'CidrRoutingConfig');
  if (cidr) r.CidrRoutingConfig = { CollectionId: textOf(cidr, 'CollectionId') ?? '', LocationName: textOf(cidr, 'LocationName') ?? '' };
  const prox = child(n, 'GeoProximityLocation');
  if (prox) {
    const g: Record<string, unknown> = {};
    if (textOf(prox, 'AWSRegion') !== undefined) g.AWSRegion = textOf(prox, 'AWSRegion');
    if (textOf(prox, 'LocalZoneGroup') !== undefined) g.LocalZoneGroup = textOf(prox, 'LocalZoneGroup');
    const c = child(prox, 'Coordinates');
    if (c) g.Coordinates = { Latitude: textOf(c, 'Latitude'), Longitude: textOf(c, 'Longitude') };
    if (textOf(prox, 'Bias') !== undefined) g.Bias = Number(textOf(prox, 'Bias'));
    r.GeoProximityLocation = g;
  }
  return r;
}

/** In the element order of the API's ResourceRecordSet type. */
function recordSetXml(r: RecordSet): string {
  const geo = r.GeoLocation ? `<GeoLocation>${['ContinentCode', 'CountryCode', 'SubdivisionCode'].map((k) => el(k, r.GeoLocation![k])).join('')}</GeoLocation>` : '';
  const rrs = r.ResourceRecords ? `<ResourceRecords>${r.ResourceRecords.map((v) => `<ResourceRecord>${el('Value', v.Value)}</ResourceRecord>`).join('')}</ResourceRecords>` : '';
  const alias = r.AliasTarget
    ? `<AliasTarget>${el('HostedZoneId', r.AliasTarget.HostedZoneId)}${el('DNSName', r.AliasTarget.DNSName)}${el('EvaluateTargetHealth', r.AliasTarget.EvaluateTargetHealth)}</AliasTarget>`
    : '';
  const cidr = r.CidrRoutingConfig ? `<CidrRoutingConfig>${el('CollectionId', r.CidrRoutingConfig.CollectionId)}${el('LocationName', r.CidrRoutingConfig.LocationName)}</CidrRoutingConfig>` : '';
  let prox = '';
  if (r.GeoProximityLocation) {
    const g = r.GeoProximityLocation as { AWSRegion?: string; LocalZoneGroup?: string; Coordinates?: { Latitude: string; Longitude: string }; Bias?: number };
    const coords = g.Coordinates ? `<Coordinates>${el('Latitude', g.Coordinates.Latitude)}${el('Longitude', g.Coordinates.Longitude)}</Coordinates>` : '';
    prox = `<GeoProximityLocation>${el('AWSRegion', g.AWSRegion)}${el('LocalZoneGroup', g.LocalZoneGroup)}${coords}${el('Bias', g.Bias)}</GeoProximityLocation>`;
  }
  return (
    `<ResourceRecordSet>${el('Name', r.Name)}${el('Type', r.Type)}${el('SetIdentifier', r.SetIdentifier)}${el('Weight', r.Weight)}${el('Region', r.Region)}` +
    `${geo}${el('Failover', r.Failover)}${el('MultiValueAnswer', r.MultiValueAnswer)}${el('TTL', r.TTL)}${rrs}${alias}${el('HealthCheckId', r.HealthCheckId)}` +
    `${el('TrafficPolicyInstanceId', r.TrafficPolicyInstanceId)}${cidr}${prox}</ResourceRecordSet>`
  );
}

function zoneXml(z: DoubleZone): string {
  return `<HostedZone>${el('Id', `/hostedzone/${z.id}`)}${el('Name', z.name)}${el('CallerReference', z.callerReference)}<Config>${el('Comment', 'route53 double')}${el('PrivateZone', z.privateZone)}</Config>${el('ResourceRecordSetCount', z.recordSets.length)}</HostedZone>`;
}

function doc(root: string, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${NS}">${body}</${root}>`;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

// ── validation (as AWS does it) ───────────────────────────────────────────────────────────

const TYPES = new Set(['SOA', 'A', 'TXT', 'NS', 'CNAME', 'MX', 'NAPTR', 'PTR', 'SRV', 'SPF', 'AAAA', 'CAA', 'DS', 'TLSA', 'SSHFP', 'SVCB', 'HTTPS']);

function describeInChange(action: string, r: RecordSet): string {
  return `[Action=${action}, Name=${r.Name}, Type=${r.Type}, SetIdentifier=${r.SetIdentifier ?? 'null'}]`;
}

function identity(r: RecordSet): string {
  return `[name='${route53Name(r.Name)}', type='${r.Type}'${r.SetIdentifier ? `, set-identifier='${r.SetIdentifier}'` : ''}]`;
}

function valueProblem(r: RecordSet): string | undefined {
  for (const { Value } of r.ResourceRecords ?? []) {
    if (r.Type === 'A' && !isIPv4(Value)) return `Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '${Value}''`;
    if (r.Type === 'AAAA' && !isIPv6(Value)) return `Invalid Resource Record: 'FATAL problem: AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address) encountered with '${Value}''`;
  }
  return undefined;
}

/** The routing-policy fields of the API; a record set with a SetIdentifier has exactly one of them. */
const ROUTING_FIELDS = ['Weight', 'Region', 'Failover', 'GeoLocation', 'MultiValueAnswer', 'GeoProximityLocation', 'CidrRoutingConfig'] as const;

function routingPolicyOf(r: RecordSet): string | undefined {
  return ROUTING_FIELDS.find((k) => r[k] !== undefined);
}

/** AWS's request validation of the routing fields (InvalidInput), in its words. */
function routingProblem(r: RecordSet): string | undefined {
  const present = ROUTING_FIELDS.filter((k) => r[k] !== undefined);
  if (r.SetIdentifier === undefined && present.length > 0) return "Missing field 'SetIdentifier'";
  if (r.SetIdentifier !== undefined && present.length !== 1) {
    return `Expected exactly one of [Weight, Region, Failover, GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig], but found ${present.length === 0 ? 'none' : 'more than one'}`;
  }
  if (r.Weight !== undefined && !(Number.isInteger(r.Weight) && r.Weight >= 0 && r.Weight <= 255)) return `Invalid Weight ${r.Weight}: expected 0 to 255`;
  if (r.Failover !== undefined && r.Failover !== 'PRIMARY' && r.Failover !== 'SECONDARY') return `Invalid Failover ${r.Failover}: expected PRIMARY or SECONDARY`;
  return undefined;
}

// ── the server ────────────────────────────────────────────────────────────────────────────

function newId(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return prefix + [...randomBytes(13)].map((b) => alphabet[b % alphabet.length]).join('');
}

export async function startRoute53Double(options: Route53DoubleOptions = {}): Promise<Route53Double> {
  const zones = new Map<string, DoubleZone>();
  const changes = new Map<string, { id: string; submittedAt: Date; comment?: string; insyncAt: number; propagated: boolean }>();
  const faults: { operation: Operation; fault: Fault; left: number }[] = [];
  const calls = Object.fromEntries(
    (['ListHostedZones', 'ListHostedZonesByName', 'GetHostedZone', 'ListResourceRecordSets', 'ChangeResourceRecordSets', 'GetChange'] as Operation[]).map((o) => [o, 0]),
  ) as Record<Operation, number>;
  const changeBatches: ChangeBatchSeen[] = [];
  let insyncAfterMs = options.insyncAfterMs ?? 0;

  const getZone = (id: string): DoubleZone => {
    const zone = zones.get(id.replace(/^\/hostedzone\//, ''));
    if (!zone) throw new ApiError(404, 'NoSuchHostedZone', `No hosted zone found with ID: ${id}`);
    return zone;
  };

  function injected(operation: Operation, zoneId?: string): void {
    const i = faults.findIndex((f) => f.operation === operation && f.left > 0 && (!f.fault.zoneId || f.fault.zoneId === zoneId));
    if (i < 0) return;
    const f = faults[i];
    f.left--;
    if (f.left === 0) faults.splice(i, 1);
    throw new ApiError(f.fault.status ?? 400, f.fault.code, f.fault.message ?? FAULT_MESSAGES[f.fault.code] ?? f.fault.code);
  }

  function listHostedZones(q: URLSearchParams): string {
    const maxItems = Math.min(100, Number(q.get('maxitems') ?? 100));
    const all = [...zones.values()];
    const marker = q.get('marker');
    const start = marker ? all.findIndex((z) => z.id === marker) : 0;
    if (start < 0) throw new ApiError(400, 'InvalidInput', `Invalid marker: ${marker}`);
    const page = all.slice(start, start + maxItems);
    const next = all[start + maxItems];
    return doc(
      'ListHostedZonesResponse',
      `<HostedZones>${page.map(zoneXml).join('')}</HostedZones>${marker ? el('Marker', marker) : ''}${el('IsTruncated', next !== undefined)}${next ? el('NextMarker', next.id) : ''}${el('MaxItems', String(maxItems))}`,
    );
  }

  function listHostedZonesByName(q: URLSearchParams): string {
    const dnsName = q.get('dnsname') ?? undefined;
    const zoneId = q.get('hostedzoneid') ?? undefined;
    if (zoneId && !dnsName) throw new ApiError(400, 'InvalidInput', 'The input is not valid: HostedZoneId requires DNSName');
    const maxItems = Math.min(100, Number(q.get('maxitems') ?? 100));
    const sorted = [...zones.values()].sort((a, b) => cmp(reversedKey(a.name), reversedKey(b.name)) || cmp(a.id, b.id));
    const startKey = dnsName ? reversedKey(dnsName) : '';
    const start = sorted.findIndex((z) => {
      const c = cmp(reversedKey(z.name), startKey);
      return c > 0 || (c === 0 && (!zoneId || z.id >= zoneId));
    });
    const from = start < 0 ? sorted.length : start;
    const page = sorted.slice(from, from + maxItems);
    const next = sorted[from + maxItems];
    return doc(
      'ListHostedZonesByNameResponse',
      `<HostedZones>${page.map(zoneXml).join('')}</HostedZones>${el('DNSName', dnsName)}${el('HostedZoneId', zoneId)}${el('IsTruncated', next !== undefined)}` +
        `${next ? el('NextDNSName', next.name) + el('NextHostedZoneId', next.id) : ''}${el('MaxItems', String(maxItems))}`,
    );
  }

  function getHostedZone(id: string): string {
    const z = getZone(id);
    const delegation = z.privateZone
      ? '<VPCs><VPC><VPCRegion>us-east-1</VPCRegion><VPCId>vpc-0double</VPCId></VPC></VPCs>'
      : `<DelegationSet><NameServers>${['ns-1.awsdns-00.com', 'ns-2.awsdns-00.net'].map((n) => el('NameServer', n)).join('')}</NameServers></DelegationSet>`;
    return doc('GetHostedZoneResponse', `${zoneXml(z)}${delegation}`);
  }

  function listResourceRecordSets(id: string, q: URLSearchParams): string {
    const z = getZone(id);
    const name = q.get('name') ?? undefined;
    const type = q.get('type') ?? undefined;
    const identifier = q.get('identifier') ?? undefined;
    if (type && !name) throw new ApiError(400, 'InvalidInput', 'The input is not valid: StartRecordType requires StartRecordName');
    if (identifier && !type) throw new ApiError(400, 'InvalidInput', 'The input is not valid: StartRecordIdentifier requires StartRecordType');
    if (type && !TYPES.has(type)) throw new ApiError(400, 'InvalidInput', `Invalid type: ${type}`);
    const requested = q.get('maxitems');
    const maxItems = requested === null ? MAX_PAGE : Number(requested);
    if (!Number.isInteger(maxItems) || maxItems < 1) throw new ApiError(400, 'InvalidInput', `Invalid MaxItems: ${requested}`);
    const pageSize = Math.min(MAX_PAGE, maxItems);
    const sets = z.recordSets; // kept sorted
    const startKey = name ? reversedKey(name) : '';
    const start = sets.findIndex((r) => {
      const c = cmp(reversedKey(r.Name), startKey) || (type ? cmp(r.Type, type) : 0) || (identifier ? cmp(r.SetIdentifier ?? '', identifier) : 0);
      return c >= 0;
    });
    const from = start < 0 ? sets.length : start;
    const page = sets.slice(from, from + pageSize);
    const next = sets[from + pageSize];
    const nextXml = next ? `${el('NextRecordName', next.Name)}${el('NextRecordType', next.Type)}${el('NextRecordIdentifier', next.SetIdentifier)}` : '';
    return doc(
      'ListResourceRecordSetsResponse',
      `<ResourceRecordSets>${page.map(recordSetXml).join('')}</ResourceRecordSets>${el('IsTruncated', next !== undefined)}${nextXml}${el('MaxItems', String(maxItems))}`,
    );
  }

  function changeInfoXml(c: { id: string; submittedAt: Date; comment?: string; insyncAt: number; propagated: boolean }, justSubmitted = false): string {
    // Like AWS: a change is PENDING when submitted, INSYNC only on a later GetChange.
    const status = !justSubmitted && c.propagated && Date.now() >= c.insyncAt ? 'INSYNC' : 'PENDING';
    return `<ChangeInfo>${el('Id', `/change/${c.id}`)}${el('Status', status)}${el('SubmittedAt', c.submittedAt.toISOString())}${el('Comment', c.comment)}</ChangeInfo>`;
  }

  async function changeResourceRecordSets(id: string, body: string): Promise<string> {
    const z = getZone(id);
    let root: XmlNode;
    try {
      root = parseXml(body);
    } catch (err) {
      throw new ApiError(400, 'InvalidInput', `Could not parse the request body: ${(err as Error).message}`);
    }
    const batch = child(root, 'ChangeBatch');
    const changeNodes = child(batch, 'Changes')?.children.filter((c) => c.name === 'Change') ?? [];
    if (!batch || changeNodes.length === 0) throw new ApiError(400, 'InvalidInput', 'Invalid request: ChangeBatch must contain at least one Change');
    const comment = textOf(batch, 'Comment');
    const parsed = changeNodes.map((n) => ({ action: textOf(n, 'Action') ?? '', recordSet: recordSetFromXml(child(n, 'ResourceRecordSet') ?? { name: '', children: [], text: '' }) }));
    changeBatches.push({ zoneId: z.id, comment, changes: structuredClone(parsed), body });

    // Shape of each change: InvalidInput, like AWS's request validation.
    for (const { action, recordSet: r } of parsed) {
      if (!['CREATE', 'DELETE', 'UPSERT'].includes(action)) throw new ApiError(400, 'InvalidInput', `Invalid request: unknown Action ${action}`);
      if (!TYPES.has(r.Type)) throw new ApiError(400, 'InvalidInput', `Invalid request: unknown Type ${r.Type} in Change with ${describeInChange(action, r)}`);
      const kinds = [r.AliasTarget !== undefined, r.TTL !== undefined || r.ResourceRecords !== undefined, r.TrafficPolicyInstanceId !== undefined].filter(Boolean).length;
      if (kinds !== 1) {
        throw new ApiError(
          400,
          'InvalidInput',
          `Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found ${kinds === 0 ? 'none' : 'more than one'} in Change with ${describeInChange(action, r)}`,
        );
      }
      const problem = routingProblem(r);
      if (problem) throw new ApiError(400, 'InvalidInput', `Invalid request: ${problem} in Change with ${describeInChange(action, r)}`);
      if (!r.AliasTarget && !r.TrafficPolicyInstanceId && (r.TTL === undefined || !r.ResourceRecords?.length)) {
        throw new ApiError(400, 'InvalidInput', `Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with ${describeInChange(action, r)}`);
      }
    }

    // The batch against the zone: InvalidChangeBatch with every problem, all or nothing.
    const problems: string[] = [];
    const weight = (action: string) => (action === 'UPSERT' ? 2 : 1);
    const records = parsed.reduce((n, c) => n + weight(c.action) * (c.recordSet.ResourceRecords?.length ?? 0), 0);
    const chars = parsed.reduce((n, c) => n + weight(c.action) * (c.recordSet.ResourceRecords ?? []).reduce((m, v) => m + v.Value.length, 0), 0);
    if (records > 1000) problems.push(`Number of records limit of 1000 exceeded (${records}; UPSERT counts twice).`);
    if (chars > 32000) problems.push(`Number of characters in all Value elements limit of 32000 exceeded (${chars}; UPSERT counts twice).`);
    const next = new Map(z.recordSets.map((r) => [setKey(r), structuredClone(r)]));
    for (const { action, recordSet } of parsed) {
      const r: RecordSet = { ...structuredClone(recordSet), Name: route53Name(recordSet.Name) };
      const key = setKey(r);
      const plainName = r.Name.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
      if (plainName !== z.name && !plainName.endsWith(`.${z.name}`)) {
        problems.push(`RRSet with DNS name ${r.Name} is not permitted in zone ${z.name}`);
        continue;
      }
      const bad = valueProblem(r);
      if (bad) problems.push(bad);
      if (action === 'DELETE') {
        const existing = next.get(key);
        if (!existing) problems.push(`Tried to delete resource record set ${identity(r)} but it was not found`);
        else if (JSON.stringify(existing) !== JSON.stringify(r)) problems.push(`Tried to delete resource record set ${identity(r)} but the values provided do not match the current values`);
        else next.delete(key);
      } else if (action === 'CREATE' && next.has(key)) {
        problems.push(`Tried to create resource record set ${identity(r)} but it already exists`);
      } else {
        next.set(key, r);
      }
    }
    // Conflicts in the resulting zone: CNAME beside other data, routed sets beside a simple one.
    const byName = new Map<string, RecordSet[]>();
    for (const r of next.values()) byName.set(r.Name, [...(byName.get(r.Name) ?? []), r]);
    for (const [name, sets] of byName) {
      const cname = sets.find((s) => s.Type === 'CNAME');
      const other = sets.find((s) => s.Type !== 'CNAME');
      if (cname && other && parsed.some((c) => route53Name(c.recordSet.Name) === name)) {
        problems.push(`RRSet of type CNAME with DNS name ${name} is not permitted because a conflicting RRSet of type ${other.Type} with the same DNS name already exists in zone ${z.name}`);
      }
      for (const type of new Set(sets.map((s) => s.Type))) {
        const group = sets.filter((s) => s.Type === type);
        if (group.length > 1 && group.some((s) => !s.SetIdentifier)) {
          problems.push(`RRSet with DNS name ${name}, type ${type} cannot have both a simple record set and record sets with a SetIdentifier`);
        }
        const policies = new Set(group.map(routingPolicyOf).filter(Boolean));
        if (policies.size > 1) {
          problems.push(`RRSet with DNS name ${name}, type ${type} cannot mix routing policies (${[...policies].sort().join(', ')}) in record sets of the same name and type`);
        }
      }
    }
    if (problems.length > 0) throw new ApiError(400, 'InvalidChangeBatch', `[${problems.join(', ')}]`);

    z.recordSets = [...next.values()].sort(compareRecordSets);
    const change = { id: newId('C'), submittedAt: new Date(), comment, insyncAt: Date.now() + insyncAfterMs, propagated: !options.onZoneChange };
    changes.set(change.id, change);
    if (options.onZoneChange) {
      const snapshot = structuredClone(z);
      void Promise.resolve(options.onZoneChange(snapshot)).then(
        () => (change.propagated = true),
        () => undefined, // never INSYNC: the lab did not take it
      );
    }
    return doc('ChangeResourceRecordSetsResponse', changeInfoXml(change, true));
  }

  function getChange(id: string): string {
    const c = changes.get(id.replace(/^\/change\//, ''));
    if (!c) throw new ApiError(404, 'NoSuchChange', `Could not find resource with ID: ${id}`);
    return doc('GetChangeResponse', changeInfoXml(c));
  }

  async function route(method: string, url: URL, body: string): Promise<string> {
    const path = url.pathname.startsWith(API) ? url.pathname.slice(API.length) : url.pathname;
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const q = url.searchParams;
    if (method === 'GET' && parts.length === 1 && parts[0] === 'hostedzone') {
      calls.ListHostedZones++;
      injected('ListHostedZones');
      return listHostedZones(q);
    }
    if (method === 'GET' && parts.length === 1 && parts[0] === 'hostedzonesbyname') {
      calls.ListHostedZonesByName++;
      injected('ListHostedZonesByName');
      return listHostedZonesByName(q);
    }
    if (method === 'GET' && parts.length === 2 && parts[0] === 'hostedzone') {
      calls.GetHostedZone++;
      injected('GetHostedZone', parts[1]);
      return getHostedZone(parts[1]);
    }
    if (parts.length === 3 && parts[0] === 'hostedzone' && parts[2] === 'rrset') {
      if (method === 'GET') {
        calls.ListResourceRecordSets++;
        injected('ListResourceRecordSets', parts[1]);
        return listResourceRecordSets(parts[1], q);
      }
      if (method === 'POST') {
        calls.ChangeResourceRecordSets++;
        injected('ChangeResourceRecordSets', parts[1]);
        return changeResourceRecordSets(parts[1], body);
      }
    }
    if (method === 'GET' && parts.length === 2 && parts[0] === 'change') {
      calls.GetChange++;
      injected('GetChange');
      return getChange(parts[1]);
    }
    throw new ApiError(404, 'UnknownOperationException', `No operation at ${method} ${url.pathname}`);
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const requestId = randomBytes(16).toString('hex');
      const url = new URL(req.url ?? '/', 'http://localhost');
      route(req.method ?? 'GET', url, Buffer.concat(chunks).toString('utf8')).then(
        (xml) => {
          res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
          res.end(xml);
        },
        (err: unknown) => {
          const e = err instanceof ApiError ? err : new ApiError(500, 'InternalFailure', (err as Error).message, 'Receiver');
          res.writeHead(e.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
          res.end(doc('ErrorResponse', `<Error>${el('Type', e.type)}${el('Code', e.code)}${el('Message', e.message)}</Error>${el('RequestId', requestId)}`));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const double: Route53Double = {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    changeBatches,
    addZone(opts) {
      const id = opts.id ?? newId('Z');
      const name = route53Name(opts.name);
      const soa = opts.soa ?? { ttl: 900, minimum: 86400 };
      const base: RecordSet[] = [
        { Name: name, Type: 'NS', TTL: 172800, ResourceRecords: [{ Value: 'ns-1.awsdns-00.com.' }, { Value: 'ns-2.awsdns-00.net.' }] },
        { Name: name, Type: 'SOA', TTL: soa.ttl, ResourceRecords: [{ Value: `ns-1.awsdns-00.com. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 ${soa.minimum}` }] },
      ];
      const extra = (opts.recordSets ?? []).map((r) => ({ ...structuredClone(r), Name: route53Name(r.Name) }));
      zones.set(id, { id, name, privateZone: opts.privateZone ?? false, callerReference: newId('ref-'), recordSets: [...base, ...extra].sort(compareRecordSets) });
      return id;
    },
    putRecordSets(zoneId, recordSets) {
      getZone(zoneId).recordSets = recordSets.map((r) => ({ ...structuredClone(r), Name: route53Name(r.Name) })).sort(compareRecordSets);
    },
    recordSets: (zoneId) => structuredClone(getZone(zoneId).recordSets),
    zone: (zoneId) => structuredClone(getZone(zoneId)),
    snapshot: () => structuredClone([...zones.values()]),
    failNext(operation, fault) {
      faults.push({ operation, fault, left: fault.times ?? 1 });
    },
    setInsyncAfter(ms) {
      insyncAfterMs = ms;
    },
    resetCalls() {
      for (const k of Object.keys(calls) as Operation[]) calls[k] = 0;
      changeBatches.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return double;
}

/**
 * A Route 53 zone as the DNS lab's knot can serve it (closed loop): record sets of one name and
 * type merged (knot has no routing policies), aliases left out (they have no zone-file form),
 * the apex SOA/NS left to the lab; the SOA's TTL and MINIMUM carried over.
 */
export function labZoneFrom(zone: DoubleZone): { records: ZoneRecord[]; soa?: { ttl: number; minimum: number } } {
  const apex = zone.name;
  const merged = new Map<string, ZoneRecord>();
  let soa: { ttl: number; minimum: number } | undefined;
  for (const r of zone.recordSets) {
    if (r.Name === apex && r.Type === 'SOA') {
      soa = { ttl: r.TTL ?? 900, minimum: Number(r.ResourceRecords?.[0]?.Value.split(/\s+/)[6] ?? 86400) };
      continue;
    }
    if ((r.Name === apex && r.Type === 'NS') || r.AliasTarget || !r.ResourceRecords) continue;
    const name = r.Name.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))).replace(/\.$/, '');
    const key = `${name}|${r.Type}`;
    const seen = merged.get(key);
    const values = r.ResourceRecords.map((v) => v.Value);
    if (seen) {
      seen.values.push(...values.filter((v) => !seen.values.includes(v)));
      seen.ttl = Math.max(seen.ttl, r.TTL ?? 0);
    } else {
      merged.set(key, { name, type: r.Type, ttl: r.TTL ?? 300, values });
    }
  }
  return { records: [...merged.values()], soa };
}
