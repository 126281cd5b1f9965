-- A dead-letter mark names its record by content as well as by position. Offsets start again at 0 when the topic
-- is re-created (a new Kafka cluster, a wiped data folder) while PostgreSQL keeps its rows: a mark found only by
-- (topic, partition, offset) then hid a different, newer record. record_digest is the SHA-256 of the record's key,
-- value and headers (src/log/dead-letter.ts recordDigest); a mark applies only to a record with the same digest.
-- Rows written before this migration have none and are matched by position, as before.
-- Frozen in time: never edit an applied migration; add a new numbered file instead.

ALTER TABLE dead_letter_marks ADD COLUMN record_digest text;
