// serverless.yml helper: the Step Functions state machine the schedule starts, and its roles.
// plan → Map of shards (at most `shardConcurrency` at once) → merge, all on the one audit function.
// The states pass keys and counts only (Step Functions allows 256 KB between states): the
// shards' partial reports wait in the stack's state table.
'use strict';

/** Where the function's ARN goes in the definition; replaced by Fn::GetAtt in the template. */
const FUNCTION = '__AUDIT_FUNCTION_ARN__';

/** Errors of the Lambda service itself (not of our code): worth a retry with backoff. */
const LAMBDA_SERVICE_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

function invoke(payload, extra) {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: { FunctionName: FUNCTION, Payload: payload },
    Retry: [{ ErrorEquals: LAMBDA_SERVICE_ERRORS, IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
    ...extra,
  };
}

/** The Amazon States Language definition, with the function's ARN as FUNCTION. */
function definition({ shardConcurrency, timeoutSeconds }) {
  return {
    Comment: 'dialer-audit: plan the shards, audit them, merge once (fixes, alert state and notices once)',
    TimeoutSeconds: timeoutSeconds,
    StartAt: 'Plan',
    States: {
      Plan: invoke({ action: 'plan', 'scheduledAt.$': '$$.Execution.StartTime' }, { ResultSelector: { 'plan.$': '$.Payload' }, OutputPath: '$.plan', Next: 'PreviousRunStillGoing' }),
      PreviousRunStillGoing: {
        Type: 'Choice',
        Choices: [{ Variable: '$.skip', IsPresent: true, Next: 'Skipped' }],
        Default: 'Shards',
      },
      Skipped: { Type: 'Succeed', Comment: 'the previous run holds the run lock; this tick audits nothing' },
      Shards: {
        Type: 'Map',
        ItemsPath: '$.shards',
        MaxConcurrency: shardConcurrency,
        ItemSelector: { 'runId.$': '$.runId', 'index.$': '$$.Map.Item.Value.index', 'count.$': '$$.Map.Item.Value.count' },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: 'Shard',
          States: {
            Shard: invoke(
              { action: 'shard', 'runId.$': '$.runId', 'index.$': '$.index', 'count.$': '$.count' },
              {
                ResultSelector: { 'index.$': '$.Payload.index', 'count.$': '$.Payload.count', 'key.$': '$.Payload.key' },
                // A shard that fails (its error, its timeout) becomes a finding in the merge, not a lost slice.
                Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'ShardFailed' }],
                End: true,
              },
            ),
            ShardFailed: {
              Type: 'Pass',
              Parameters: { 'index.$': '$.index', 'count.$': '$.count', 'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause' },
              End: true,
            },
          },
        },
        ResultPath: '$.results',
        Next: 'Merge',
      },
      Merge: invoke({ action: 'merge', 'runId.$': '$.runId', 'results.$': '$.results' }, { ResultSelector: { 'summary.$': '$.Payload' }, End: true }),
    },
  };
}

/** The definition as CloudFormation: the JSON text, the function's ARN spliced in with Fn::GetAtt. */
function definitionString(options) {
  const parts = JSON.stringify(definition(options)).split(JSON.stringify(FUNCTION));
  const joined = [];
  parts.forEach((part, i) => {
    joined.push(part);
    if (i < parts.length - 1) joined.push('"', { 'Fn::GetAtt': ['AuditLambdaFunction', 'Arn'] }, '"');
  });
  return { 'Fn::Join': ['', joined] };
}

function positiveInt(name, value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a whole number ≥ 1, got "${value}"`);
  return n;
}

function runAlarm(metric, description) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: `dialer-audit: ${description}`,
      Namespace: 'AWS/States',
      MetricName: metric,
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: 'AuditStateMachine' } }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
      OKActions: [{ Ref: 'AlarmTopic' }],
    },
  };
}

module.exports = async ({ resolveVariable }) => {
  const shardConcurrency = positiveInt('shardConcurrency', await resolveVariable('param:shardConcurrency'));
  const timeoutSeconds = positiveInt('runTimeout', await resolveVariable('param:runTimeout'));
  const schedule = await resolveVariable('param:schedule');
  const functionArn = { 'Fn::GetAtt': ['AuditLambdaFunction', 'Arn'] };
  return {
    Resources: {
      AuditStateMachineRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
          Policies: [
            {
              PolicyName: 'invoke-the-audit-function',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [{ Sid: 'InvokeAuditFunction', Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: [functionArn, { 'Fn::Join': ['', [functionArn, ':*']] }] }],
              },
            },
          ],
        },
      },
      AuditStateMachine: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: {
          StateMachineType: 'STANDARD',
          RoleArn: { 'Fn::GetAtt': ['AuditStateMachineRole', 'Arn'] },
          DefinitionString: definitionString({ shardConcurrency, timeoutSeconds }),
        },
      },
      AuditScheduleRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
          Policies: [
            {
              PolicyName: 'start-the-audit',
              PolicyDocument: { Version: '2012-10-17', Statement: [{ Sid: 'StartAuditRun', Effect: 'Allow', Action: ['states:StartExecution'], Resource: [{ Ref: 'AuditStateMachine' }] }] },
            },
          ],
        },
      },
      AuditSchedule: {
        Type: 'AWS::Events::Rule',
        Properties: {
          Description: 'dialer-audit run: starts the state machine',
          ScheduleExpression: schedule,
          State: 'ENABLED',
          Targets: [{ Id: 'dialer-audit-run', Arn: { Ref: 'AuditStateMachine' }, RoleArn: { 'Fn::GetAtt': ['AuditScheduleRole', 'Arn'] }, Input: '{}' }],
        },
      },
      // A run that failed as a whole (plan or merge threw) or ran out of time: the audit is broken.
      AuditRunFailedAlarm: runAlarm('ExecutionsFailed', 'a run of the state machine failed (see the plan or merge step\'s log)'),
      AuditRunTimedOutAlarm: runAlarm('ExecutionsTimedOut', `a run of the state machine took longer than runTimeout (${timeoutSeconds} s)`),
    },
    Outputs: { AuditStateMachineArn: { Value: { Ref: 'AuditStateMachine' } } },
  };
};

module.exports.definition = definition;
module.exports.FUNCTION = FUNCTION;
