-- Offline notifications by webhook (NOTIFY_WEBHOOK_URL). The notify consumer writes one outbox row per offline
-- member and message in the same statement as the notification row (so a redelivered record adds none); the
-- delivery worker groups a member's rows of a room into deliveries (one POST each, at most the message cap) and
-- retries each until the receiver answers 2xx (then the delivery and its rows are deleted) or it is given up
-- (state 'failed', kept for an operator to list, retry or discard).
-- `scope` separates deployments that share a database (it is KAFKA_GROUP_PREFIX, as for the consumer groups).
-- Frozen in time: never edit an applied migration; add a new numbered file instead.

CREATE TABLE webhook_deliveries (
  id            uuid PRIMARY KEY,
  scope         text        NOT NULL,
  user_id       bigint      NOT NULL,
  room_id       bigint      NOT NULL,
  message_count integer     NOT NULL,
  state         text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
  attempts      integer     NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- The give-up clock: when the delivery was formed, or when an operator retried it.
  started_at    timestamptz NOT NULL DEFAULT now(),
  -- Due time: the next attempt, or while a worker holds it, the end of its lease (a killed worker's delivery
  -- becomes due again by itself).
  next_at       timestamptz NOT NULL DEFAULT now(),
  lease_token   uuid,
  last_status   integer,
  last_error    text,
  failed_at     timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (scope, next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (scope, failed_at DESC, id) WHERE state = 'failed';

CREATE TABLE webhook_outbox (
  id          bigserial PRIMARY KEY,
  scope       text        NOT NULL,
  user_id     bigint      NOT NULL,
  room_id     bigint      NOT NULL,
  message_id  uuid        NOT NULL,
  seq         bigint      NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  delivery_id uuid REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  CONSTRAINT webhook_outbox_user_message_uk UNIQUE (user_id, message_id)
);
CREATE INDEX webhook_outbox_unassigned_idx ON webhook_outbox (scope, user_id, room_id, seq) WHERE delivery_id IS NULL;
CREATE INDEX webhook_outbox_delivery_idx ON webhook_outbox (delivery_id);
