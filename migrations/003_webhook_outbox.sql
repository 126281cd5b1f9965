-- Offline notifications by webhook (NOTIFY_WEBHOOK_URL). The notify consumer writes one outbox row per offline
-- member and message in the same statement as the notification row, idempotent on (scope, user, message); the
-- delivery worker groups a member's rows of a room into deliveries (one POST each, at most the message cap) and
-- retries each until the receiver answers 2xx ('delivered') or it is given up ('failed', kept for an operator to
-- list, retry or discard). Settled deliveries and their rows are kept a while (so a redelivered Kafka record
-- queues nothing again), then pruned.
-- `scope` separates deployments that share a database (it is KAFKA_GROUP_PREFIX, as for the consumer groups).
-- Frozen in time: never edit an applied migration; add a new numbered file instead.

CREATE TABLE webhook_deliveries (
  id            uuid PRIMARY KEY,
  scope         text        NOT NULL,
  user_id       bigint      NOT NULL,
  room_id       bigint      NOT NULL,
  message_count integer     NOT NULL,
  state         text        NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'failed', 'delivered', 'dropped', 'discarded')),
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
  failed_at     timestamptz,
  -- When it was delivered, dropped (the member left) or discarded by an operator: pruned some days later.
  settled_at    timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (scope, next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (scope, failed_at DESC, id) WHERE state = 'failed';
CREATE INDEX webhook_deliveries_settled_idx ON webhook_deliveries (scope, settled_at) WHERE settled_at IS NOT NULL;

CREATE TABLE webhook_outbox (
  id          bigserial PRIMARY KEY,
  scope       text        NOT NULL,
  user_id     bigint      NOT NULL,
  room_id     bigint      NOT NULL,
  message_id  uuid        NOT NULL,
  seq         bigint      NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  delivery_id uuid REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  CONSTRAINT webhook_outbox_scope_user_message_uk UNIQUE (scope, user_id, message_id)
);
CREATE INDEX webhook_outbox_unassigned_idx ON webhook_outbox (scope, user_id, room_id, seq) WHERE delivery_id IS NULL;
CREATE INDEX webhook_outbox_delivery_idx ON webhook_outbox (delivery_id);
