-- Rooms are private by default: a GROUP room is joined by invitation only, unless it is public.
-- Frozen in time: never edit an applied migration; add a new numbered file instead.

ALTER TABLE chat_rooms ADD COLUMN visibility text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public'));

CREATE TABLE room_invitations (
  room_id    bigint      NOT NULL REFERENCES chat_rooms (id),
  user_id    bigint      NOT NULL REFERENCES users (id),
  invited_by bigint      NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (room_id, user_id)
);
