// Shared helpers of the load scenarios, one module per job under bench/lib/ (flags, output, CPU, pacing, servers),
// with the statistics and metric scraping the tests use too (test/support/stats.ts, scrape.ts). Scenarios import
// from here.
export { setTimeout as sleep } from 'node:timers/promises';
export { bucketText, histogramQuantile, scrapeHistogram } from '../test/support/scrape.js';
export { percentileOfSorted as percentile, summarize, type Summary } from '../test/support/stats.js';
export { CpuMeter, cpuNote, loadText, processCpuSeconds, serverCpuMeter, systemCpuMeter } from './lib/cpu.js';
export { Flags } from './lib/flags.js';
export { RESULTS_DIR, RUN_ID, appendResults, commandLine, environment, fmt, markdownTable, printTable, progress, round } from './lib/output.js';
export { mapLimit, paced } from './lib/pacing.js';
export { foreignGroupMembers, runningServerCount, warnForeignServers, withServers } from './lib/servers.js';
