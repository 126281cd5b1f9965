// The dead-letter record format: the headers the consumer adds when it gives up on a record, and the one the
// replay tool (scripts/dlt.ts) adds when it puts a record back. One list, used by both.

export const DLT_HEADERS = {
  error: 'x-error',
  attempts: 'x-attempts',
  group: 'x-consumer-group',
  sourceTopic: 'x-source-topic',
  sourcePartition: 'x-source-partition',
  sourceOffset: 'x-source-offset',
} as const;

/** Set on records the dead-letter tool re-publishes: consumers must not re-broadcast an already stored message. */
export const REPLAYED_HEADER = 'x-replayed-from-dlt-offset';
