#!/usr/bin/env node
// The agent's command line with spans exported through the stock
// OpenTelemetry SDK instead of the agent's own pipeline: the benchmark's
// comparison path (docs/benchmarks.md). Same flags, variables and output.
import { main } from '../../src/cli';
import { SdkSpanSink } from './sdk-span-sink';

main({
  spanSink: ({ otelEnv, resource, scope, serviceOf }) => {
    // The SDK reads its settings from process.env, as any SDK user's would:
    // it gets the effective ones (file and flags applied) there.
    Object.assign(process.env, otelEnv);
    return new SdkSpanSink(resource, scope, serviceOf);
  },
});
