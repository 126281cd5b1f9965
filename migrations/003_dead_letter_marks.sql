-- Dead letters handled by an operator (replayed or discarded), by the operations console or `npm run dlt`.
-- The dead-letter topic is append-only: a record cannot be removed from it, so the list hides marked records and
-- the pending count leaves them out. One row per record: a later action replaces the earlier one.
-- Frozen in time: never edit an applied migration; add a new numbered file instead.

CREATE TABLE dead_letter_marks (
  topic       text        NOT NULL,
  partition   integer     NOT NULL,
  dlt_offset  bigint      NOT NULL,
  action      text        NOT NULL CHECK (action IN ('replayed', 'discarded')),
  actor       text        NOT NULL,
  replayed_to text,
  marked_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition, dlt_offset)
);
