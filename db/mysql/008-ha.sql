-- kamailio-pchat migration 008: high availability.
--
-- Every post gets a random id, written in the post's own transaction. When the connection dies
-- during COMMIT (the server or a Galera node went down), the module looks the id up on the
-- server that answers next and learns whether the post is stored before it answers the client:
-- stored, it is acknowledged and relayed; not stored, the client gets 503 and may retry. So a
-- retry never stores a post twice, and no acknowledged post is lost. Posts stored before this
-- migration have none (NULL: a unique key allows any number of them).
ALTER TABLE pchat_message ADD COLUMN IF NOT EXISTS uid BIGINT NULL;
ALTER TABLE pchat_message ADD UNIQUE KEY IF NOT EXISTS message_uid_idx (uid);

INSERT INTO version (table_name, table_version) VALUES
    ('pchat_message', 2),
    ('pchat_schema', 8)
ON DUPLICATE KEY UPDATE table_version = GREATEST(table_version, VALUES(table_version));
