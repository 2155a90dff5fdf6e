// serverless.yml helper: the IAM policy that lets the Lambda change TTLs, scoped to the hosted zones
// in the `route53ZoneIds` param (comma-separated ids). No zones → no policy at all: without
// `fix.mode: apply` the function never changes a record, so it gets no right to.
'use strict';

const ZONE_ID = /^(?:\/hostedzone\/)?(Z[A-Z0-9]{1,32})$/;

function zoneArns(text) {
  const ids = String(text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return ids.map((id) => {
    const m = ZONE_ID.exec(id);
    if (!m) throw new Error(`route53ZoneIds: "${id}" is not a Route 53 hosted zone id (expected e.g. Z0123456789ABCDEFGHIJ)`);
    // Route 53 is global: its ARNs have no region and no account.
    return `arn:aws:route53:::hostedzone/${m[1]}`;
  });
}

module.exports = async ({ resolveVariable }) => {
  const arns = zoneArns(await resolveVariable('param:route53ZoneIds'));
  if (arns.length === 0) return {};
  return {
    Resources: {
      Route53ChangePolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'dialer-audit-route53-ttl-fixes',
          Roles: [{ Ref: 'IamRoleLambdaExecution' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Sid: 'ChangeTtlsInConfiguredZonesOnly', Effect: 'Allow', Action: ['route53:ChangeResourceRecordSets'], Resource: arns }],
          },
        },
      },
    },
  };
};

module.exports.zoneArns = zoneArns;
