// `npm run bench -- report`: regenerates the load sections of PERF_RESULT.md (fan-out, peers, capacity, connect
// storm, idle connections, reproduce) and the SVG charts under bench/charts/ from the latest run of each scenario in
// bench/results/*.jsonl. Hand-written sections (the codec section from `bench -- codec`, partitioning, reads,
// resume, profiles) are left as they are; a scenario without results leaves its section unchanged.
//
// npm run bench -- report [--results bench/results] [--out PERF_RESULT.md] [--charts bench/charts] [--stdout]
//                         [--only capacity,peers]
//   --stdout: print the new document instead of writing it (charts are still written)
//   --only:   regenerate only these sections (e.g. after one scenario's runs, keeping the others' figures)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../test/support/cluster.js';
import { Flags, RESULTS_DIR, progress } from './lib.js';
import { capacitySection } from './report/capacity.js';
import { latestRun, latestRunPer, latestRuns } from './report/results.js';
import { fanoutSection, idleSection, peersSection, placeSection, reproduceSection, stormSection, topologySection, type Section } from './report/sections.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['results', 'out', 'charts', 'only'], ['stdout']);
  const only = f.str('only', '').split(',').filter(Boolean);
  const resultsDir = resolve(f.str('results', RESULTS_DIR));
  const out = resolve(f.str('out', join(ROOT, 'PERF_RESULT.md')));
  const chartsDir = resolve(f.str('charts', join(BENCH_DIR, 'charts')));
  const toStdout = f.bool('stdout');
  const chartsRel = relative(dirname(out), chartsDir).split('\\').join('/') || '.';

  let doc = readFileSync(out, 'utf8');
  const sections: Array<{ section: Section | null; scenario: string; place: Parameters<typeof placeSection>[2] }> = [];
  const fan = latestRun(resultsDir, 'fanout');
  sections.push({ scenario: 'fanout', section: fan.length ? fanoutSection(fan, chartsRel) : null, place: { replaceHeading: '## Claims 1 and 2: fan-out' } });
  const split = latestRun(resultsDir, 'fanout-split');
  sections.push({ scenario: 'fanout-split', section: split.length && fan.length ? topologySection(fan, split) : null, place: { after: 'fanout' } });
  const peers = latestRun(resultsDir, 'peers');
  sections.push({ scenario: 'peers', section: peers.length ? peersSection(peers, chartsRel) : null, place: { after: 'fanout' } });
  // Capacity: the range over the last three runs, the latest run's steps and chart.
  const capacityRuns = latestRuns(resultsDir, 'capacity', 3);
  sections.push({ scenario: 'capacity', section: capacityRuns.length ? capacitySection(capacityRuns, chartsRel) : null, place: { after: 'peers' } });
  const storm = latestRun(resultsDir, 'connect-storm');
  sections.push({ scenario: 'connect-storm', section: storm.length ? stormSection(storm) : null, place: { after: 'capacity' } });
  // The latest run over each transport (WebSocket and TCP), one row each.
  const idle = latestRunPer(resultsDir, 'idle', 'transport');
  sections.push({ scenario: 'idle', section: idle.length ? idleSection(idle) : null, place: { after: 'connect-storm' } });

  let anchor = 'fanout';
  for (const s of sections) {
    if (only.length && !only.includes(s.scenario)) {
      if (s.section && doc.includes(`<!-- bench-report:${s.section.name} begin -->`)) anchor = s.section.name;
      continue;
    }
    if (!s.section) {
      progress(`${s.scenario}: no results in ${resultsDir}: section left unchanged`);
      continue;
    }
    // Sections go after the last one placed, so they keep their order whichever exist.
    doc = placeSection(doc, s.section, s.scenario === 'fanout' ? s.place : { after: anchor });
    anchor = s.section.name;
    mkdirSync(chartsDir, { recursive: true });
    for (const c of s.section.charts) {
      writeFileSync(join(chartsDir, c.file), c.svg);
      progress(`chart ${join(chartsDir, c.file)}`);
    }
    const from = { fanout: fan, 'fanout-split': split, peers, capacity: capacityRuns[0] ?? [], idle, 'connect-storm': storm }[s.scenario] ?? [];
    progress(`${s.scenario}: section from the run of ${from[0]?.date ?? '?'}`);
  }
  if (!only.length || only.includes('reproduce')) doc = placeSection(doc, reproduceSection(), { replaceHeading: '## Reproduce', toEnd: true });

  if (toStdout) process.stdout.write(doc);
  else {
    writeFileSync(out, doc);
    progress(`wrote ${out}`);
  }
}
