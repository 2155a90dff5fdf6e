/**
 * A stand-in for AWS Step Functions, which cannot run here: it executes an Amazon States Language
 * definition locally, calling an in-process Lambda handler for each `lambda:invoke` task. Only the
 * subset the state machine of serverless.yml uses: Task, Choice (IsPresent, BooleanEquals), Map
 * (ItemsPath, ItemSelector, MaxConcurrency, an inline ItemProcessor), Pass, Succeed;
 * Parameters/ItemSelector/ResultSelector with `.$` paths, ResultPath, OutputPath, Catch.
 * Paths are `$`, `$.a.b` and the context object `$$.…`. Retry is not played: the errors it names
 * are the Lambda service's own, which do not happen in-process. Anything else throws, so a
 * definition using more than this cannot pass a test unnoticed.
 */

type Json = unknown;
type State = Record<string, any>;
export interface Machine {
  StartAt: string;
  States: Record<string, State>;
}

/** A failure as Step Functions names it: the error (e.g. `Error`, `Sandbox.Timedout`) and its cause. */
export class StatesError extends Error {
  constructor(
    readonly error: string,
    readonly cause: string,
  ) {
    super(`${error}: ${cause}`);
  }
}

export interface RunOptions {
  /** Calls the function of a `lambda:invoke` task; a throw is that task's failure. */
  invoke(functionName: string, payload: Json): Promise<Json>;
  /** The context object's `Execution` (`$$.Execution.…`). */
  execution?: Record<string, Json>;
}

function read(path: string, input: Json, context: Record<string, Json>): Json {
  const [root, ...rest] = path === '$' ? ['$'] : path.startsWith('$$.') ? ['$$', ...path.slice(3).split('.')] : path.startsWith('$.') ? ['$', ...path.slice(2).split('.')] : [path];
  if (root !== '$' && root !== '$$') throw new Error(`step-functions stand-in: unsupported path ${path}`);
  let value: Json = root === '$$' ? context : input;
  for (const key of rest) {
    if (value === null || typeof value !== 'object' || !(key in (value as object))) throw new StatesError('States.Runtime', `the JSONPath ${path} could not be found in the input`);
    value = (value as Record<string, Json>)[key];
  }
  return value;
}

function has(path: string, input: Json): boolean {
  try {
    read(path, input, {});
    return true;
  } catch {
    return false;
  }
}

/** A Parameters-style template: keys ending in `.$` take the value at their path. */
function fill(template: Json, input: Json, context: Record<string, Json>): Json {
  if (Array.isArray(template)) return template.map((t) => fill(t, input, context));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(template as Record<string, Json>)) {
    if (key.endsWith('.$')) out[key.slice(0, -2)] = read(value as string, input, context);
    else out[key] = fill(value, input, context);
  }
  return out;
}

function place(input: Json, resultPath: string | null | undefined, result: Json): Json {
  if (resultPath === null) return input;
  if (resultPath === undefined || resultPath === '$') return result;
  const keys = resultPath.replace(/^\$\./, '').split('.');
  const out = structuredClone(input) as Record<string, Json>;
  let at = out;
  for (const key of keys.slice(0, -1)) at = (at[key] ??= {}) as Record<string, Json>;
  at[keys[keys.length - 1]] = result;
  return out;
}

async function runState(state: State, input: Json, context: Record<string, Json>, opts: RunOptions): Promise<Json> {
  switch (state.Type) {
    case 'Pass':
      return place(input, state.ResultPath, state.Parameters ? fill(state.Parameters, input, context) : input);
    case 'Task': {
      if (state.Resource !== 'arn:aws:states:::lambda:invoke') throw new Error(`step-functions stand-in: unsupported resource ${state.Resource}`);
      const params = fill(state.Parameters, input, context) as { FunctionName: string; Payload: Json };
      // The lambda:invoke integration's result: the function's response under Payload.
      const raw = { StatusCode: 200, Payload: await opts.invoke(params.FunctionName, params.Payload) };
      return place(input, state.ResultPath, state.ResultSelector ? fill(state.ResultSelector, raw, context) : raw);
    }
    case 'Map': {
      const items = read(state.ItemsPath ?? '$', input, context) as Json[];
      const results: Json[] = new Array(items.length);
      const limit = state.MaxConcurrency && state.MaxConcurrency > 0 ? state.MaxConcurrency : items.length;
      let next = 0;
      const worker = async () => {
        while (next < items.length) {
          const index = next++;
          const itemContext = { ...context, Map: { Item: { Index: index, Value: items[index] } } };
          const itemInput = state.ItemSelector ? fill(state.ItemSelector, input, itemContext) : items[index];
          results[index] = await runMachine(state.ItemProcessor, itemInput, opts, context);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
      return place(input, state.ResultPath, results);
    }
    case 'Succeed':
      return input;
    default:
      throw new Error(`step-functions stand-in: unsupported state type ${state.Type}`);
  }
}

function choose(state: State, input: Json): string {
  for (const rule of state.Choices as Record<string, Json>[]) {
    const path = rule.Variable as string;
    if ('IsPresent' in rule && has(path, input) === rule.IsPresent) return rule.Next as string;
    if ('BooleanEquals' in rule && has(path, input) && read(path, input, {}) === rule.BooleanEquals) return rule.Next as string;
  }
  if (!state.Default) throw new StatesError('States.NoChoiceMatched', 'no choice matched');
  return state.Default as string;
}

/** Runs the machine on `input` and returns its output; a failure not caught throws StatesError. */
export async function runMachine(machine: Machine, input: Json, opts: RunOptions, outer: Record<string, Json> = { Execution: opts.execution ?? {} }): Promise<Json> {
  let name: string | undefined = machine.StartAt;
  let data = input;
  while (name) {
    const state: State = machine.States[name];
    if (!state) throw new Error(`step-functions stand-in: no state ${name}`);
    if (state.Type === 'Choice') {
      name = choose(state, data);
      continue;
    }
    let output: Json;
    try {
      output = await runState(state, data, outer, opts);
    } catch (err) {
      const failure = err instanceof StatesError ? err : new StatesError((err as Error).name || 'Error', JSON.stringify({ errorType: (err as Error).name, errorMessage: (err as Error).message }));
      const handler = (state.Catch as { ErrorEquals: string[]; ResultPath?: string; Next: string }[] | undefined)?.find((c) => c.ErrorEquals.includes('States.ALL') || c.ErrorEquals.includes(failure.error));
      if (!handler) throw failure;
      data = place(data, handler.ResultPath, { Error: failure.error, Cause: failure.cause });
      name = handler.Next;
      continue;
    }
    data = state.OutputPath ? read(state.OutputPath, output, outer) : output;
    if (state.Type === 'Succeed' || state.End) return data;
    name = state.Next;
  }
  return data;
}
