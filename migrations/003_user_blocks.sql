-- Blocking: a user blocks another. The blocked user can no longer add the blocker to a room (GROUP members,
-- invitations) nor open a DIRECT room with them; their membership of an existing DIRECT room with the blocker ends.
-- Frozen in time: never edit an applied migration; add a new numbered file instead.

CREATE TABLE user_blocks (
  blocker_id bigint      NOT NULL REFERENCES users (id),
  blocked_id bigint      NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (blocker_id, blocked_id),
  CHECK (blocker_id <> blocked_id)
);
-- "Who has blocked this user?": asked whenever someone adds people to a room.
CREATE INDEX user_blocks_blocked_idx ON user_blocks (blocked_id, blocker_id);
