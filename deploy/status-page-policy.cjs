// serverless.yml helper: the IAM policy that lets the Lambda put the status page (reporters.html.s3
// in the bundled config) into its bucket — s3:PutObject on the `statusPrefix` of the
// `statusBucket` param only. No bucket → no policy at all: the function gets no S3 right.
'use strict';

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function pageObjectArn(bucket, prefix) {
  const name = String(bucket ?? '').trim();
  if (name === '') return undefined;
  if (!BUCKET.test(name)) throw new Error(`statusBucket: "${name}" is not an S3 bucket name (3–63 lower-case letters, digits, dots, hyphens)`);
  const keyPrefix = String(prefix ?? '').trim();
  if (/[*?]|^\//.test(keyPrefix)) throw new Error(`statusPrefix: "${keyPrefix}" must be a plain key prefix such as status/ (no wildcards, no leading /)`);
  // The page is <prefix>index.html (reporters.html.s3.prefix, with or without its trailing /).
  const folder = keyPrefix === '' ? '' : `${keyPrefix.replace(/\/+$/, '')}/`;
  return `arn:aws:s3:::${name}/${folder}index.html`;
}

module.exports = async ({ resolveVariable }) => {
  const arn = pageObjectArn(await resolveVariable('param:statusBucket'), await resolveVariable('param:statusPrefix'));
  if (!arn) return {};
  return {
    Resources: {
      StatusPagePolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'dialer-audit-status-page',
          Roles: [{ Ref: 'IamRoleLambdaExecution' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Sid: 'PutTheStatusPageOnly', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [arn] }],
          },
        },
      },
    },
  };
};

module.exports.pageObjectArn = pageObjectArn;
