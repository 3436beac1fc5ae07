export { startSGPTestServer } from './server.js';
export type { SGPTestServer, SGPTestServerOptions, RecordedRequest, FailOptions } from './server.js';
export { formatTraceTree } from './tree.js';
export { validateBatch, validateItem, isoToMicros, MAX_ITEMS } from './validate.js';
export type { Rejection } from './validate.js';
export { startDevServer, summarizeTraces, DEV_PORT } from './dev-server.js';
export type { DevServer, DevServerOptions, TraceList, TraceSummary } from './dev-server.js';
