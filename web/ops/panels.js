// The console's record panels, each a spec for RecordTable (its list and action routes under /api/ops/, its count in
// the overview's `counts`): the dead letters, and the offline-notification webhook deliveries that were given up.
import { h } from '../dom.js';
import { RecordTable } from './record-table.js';

const time = (iso) => (iso ? new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '–');

export const PANELS = [
  {
    id: 'dead-letters',
    create: (api) =>
      new RecordTable(
        {
          id: 'dead-letters',
          title: 'Dead letters',
          countKey: 'deadLetters',
          listPath: '/api/ops/dead-letters',
          keyOf: (r) => `${r.partition}:${r.offset}`,
          refOf: (r) => ({ partition: r.partition, offset: r.offset }),
          describe: (r) => `dead letter ${r.offset}`,
          columns: [
            { title: 'DLT offset', cell: (r) => `${r.partition}@${r.offset}` },
            { title: 'Time', cell: (r) => time(r.timestamp) },
            { title: 'Group', cell: (r) => r.group ?? '–' },
            { title: 'Source', cell: (r) => `${r.sourceTopic ?? '?'}[${r.sourcePartition ?? '?'}]@${r.sourceOffset ?? '?'}` },
            { title: 'Attempts', cell: (r) => String(r.attempts ?? '–') },
            { title: 'Error', cell: (r) => h('span', { class: 'ops-error' }, r.error ?? '') },
            {
              title: 'Preview',
              cell: (r) =>
                h(
                  'span',
                  {},
                  h('code', {}, r.preview ?? 'null'),
                  r.handled ? h('span', { class: 'muted' }, ` — ${r.handled.action} by ${r.handled.actor}`) : null,
                  r.replayedFrom ? h('span', { class: 'muted' }, ` (replay of ${r.replayedFrom})`) : null,
                ),
            },
          ],
          actions: [
            { label: 'Replay', path: '/api/ops/dead-letters/replay', verb: 'Replaying' },
            { label: 'Discard', path: '/api/ops/dead-letters/discard', verb: 'Discarding' },
          ],
        },
        api,
      ),
  },
  {
    id: 'webhook-deliveries',
    create: (api) =>
      new RecordTable(
        {
          id: 'webhook-deliveries',
          title: 'Failed webhook deliveries',
          countKey: 'failedDeliveries',
          listPath: '/api/ops/webhook-deliveries',
          handledToggle: false,
          keyOf: (r) => r.id,
          refOf: (r) => ({ id: r.id }),
          describe: (r) => `delivery ${r.id}`,
          columns: [
            { title: 'Delivery', cell: (r) => h('code', {}, r.id) },
            { title: 'Failed', cell: (r) => time(r.failedAt) },
            { title: 'User / room', cell: (r) => `${r.userId} / ${r.roomId}` },
            { title: 'Messages', cell: (r) => String(r.count) },
            { title: 'Attempts', cell: (r) => String(r.attempts) },
            {
              title: 'Last answer',
              cell: (r) => h('span', { class: 'ops-error' }, [r.lastStatus, r.lastError].filter((x) => x !== null && x !== undefined).join(' ')),
            },
          ],
          actions: [
            { label: 'Retry', path: '/api/ops/webhook-deliveries/retry', verb: 'Retrying' },
            { label: 'Discard', path: '/api/ops/webhook-deliveries/discard', verb: 'Discarding' },
          ],
        },
        api,
      ),
  },
];
