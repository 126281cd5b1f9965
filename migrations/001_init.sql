-- Initial schema: users, rooms, members, messages (per-room seq), notifications.
-- Frozen in time: never edit an applied migration; add a new numbered file instead.

CREATE TABLE users (
  id            bigserial PRIMARY KEY,
  email         text        NOT NULL,
  password_hash text        NOT NULL,
  nickname      text        NOT NULL,
  status        text        NOT NULL DEFAULT 'OFFLINE' CHECK (status IN ('ONLINE', 'OFFLINE')),
  last_seen_at  timestamptz,
  deleted_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_uk ON users (lower(email));

CREATE TABLE chat_rooms (
  id         bigserial PRIMARY KEY,
  name       text        NOT NULL,
  type       text        NOT NULL CHECK (type IN ('DIRECT', 'GROUP')),
  created_by bigint      NOT NULL REFERENCES users (id),
  -- 'minUserId:maxUserId' for DIRECT rooms, so one room per pair is enforced by the database.
  direct_key text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((type = 'DIRECT') = (direct_key IS NOT NULL))
);

CREATE TABLE chat_room_members (
  id                   bigserial PRIMARY KEY,
  room_id              bigint      NOT NULL REFERENCES chat_rooms (id),
  user_id              bigint      NOT NULL REFERENCES users (id),
  last_read_message_id uuid,
  -- Read position as a seq: read positions only move forward (enforced by every writer with GREATEST).
  last_read_seq        bigint      NOT NULL DEFAULT 0,
  unread_count         integer     NOT NULL DEFAULT 0,
  joined_at            timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT chat_room_members_uk UNIQUE (room_id, user_id)
);
CREATE INDEX chat_room_members_user_idx ON chat_room_members (user_id);

CREATE TABLE messages (
  id              uuid PRIMARY KEY,
  room_id         bigint      NOT NULL REFERENCES chat_rooms (id),
  -- seq = Kafka offset of the record in the room's partition + 1: strictly increasing per room,
  -- known when the producer is acknowledged, identical on the broadcast and the persist path.
  seq             bigint      NOT NULL CHECK (seq >= 1),
  sender_id       bigint      NOT NULL REFERENCES users (id),
  content         text        NOT NULL,
  type            text        NOT NULL CHECK (type IN ('TEXT', 'IMAGE', 'SYSTEM')),
  idempotency_key text,
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  created_at      timestamptz NOT NULL,
  CONSTRAINT messages_room_seq_uk UNIQUE (room_id, seq),
  CONSTRAINT messages_sender_idem_uk UNIQUE (sender_id, idempotency_key)
);
CREATE INDEX messages_room_created_idx ON messages (room_id, created_at);

CREATE TABLE notifications (
  id         bigserial PRIMARY KEY,
  user_id    bigint      NOT NULL REFERENCES users (id),
  room_id    bigint      NOT NULL REFERENCES chat_rooms (id),
  message_id uuid        NOT NULL,
  seq        bigint      NOT NULL,
  sender_id  bigint      NOT NULL,
  preview    text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT notifications_user_message_uk UNIQUE (user_id, message_id)
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
