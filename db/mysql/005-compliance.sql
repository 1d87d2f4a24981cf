-- kamailio-pchat migration 005: the compliance service (Lync's Persistent Chat compliance).
--
-- While an adapter is configured, every join, part, post, history read, moderation and file
-- transfer (FILEUPLOAD, FILEDOWNLOAD, migration 006) is written to an outbox
-- (pchat_compliance_event): a post's event in the same transaction as the post. One worker of the pool at a time (the holder of the lease in
-- pchat_compliance_state) takes the waiting events in batches, writes each batch to the output
-- folder, and deletes exactly the batch's events after its files are in place. A batch's members
-- (batch_id) and file names (pchat_compliance_batch.name) are recorded before anything is
-- written, so a run after a crash writes the same batch again under the same names.

-- The outbox. An event keeps what the output needs even after the room or the user changed or
-- went: no foreign key to the room. ts is the server's time of the event.
CREATE TABLE IF NOT EXISTS pchat_compliance_event (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    kind ENUM('JOIN', 'PART', 'CHAT', 'BACKCHAT', 'FILEUPLOAD', 'FILEDOWNLOAD', 'REPLACE',
              'CLEAR') NOT NULL,
    ts DATETIME(6) NOT NULL,
    room_id BIGINT UNSIGNED NOT NULL,
    room_uri VARCHAR(320) CHARACTER SET ascii NOT NULL,
    room_name VARCHAR(256) NOT NULL,
    room_logged TINYINT(1) NOT NULL,
    user VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    msg_id BIGINT UNSIGNED NOT NULL DEFAULT 0,   -- CHAT, REPLACE: the post's number in its room
    content MEDIUMTEXT NOT NULL,                  -- see modules/pchat/pchat_archive.h
    detail MEDIUMTEXT NULL,                       -- a JSON object: what the kind adds
    batch_id BIGINT UNSIGNED NULL,                -- the batch that took it; NULL while waiting
    -- one secondary index, for taking waiting events (batch_id NULL) and reading a batch a
    -- room at a time: each index is one more write for every post
    KEY compliance_batch_idx (batch_id, room_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A batch taken by the worker, with what decides its files: the adapter and options of the time
-- it was taken (a batch written again takes the current ones while none of its files was
-- published), and the stem of its file names. Deleted with its events once written.
CREATE TABLE IF NOT EXISTS pchat_compliance_batch (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(64) CHARACTER SET ascii NOT NULL,  -- pchat-compliance-<time>-<id>
    adapter ENUM('xml', 'jsonl') NOT NULL,
    output_dir VARCHAR(1024) NOT NULL,
    one_room_per_file TINYINT(1) NOT NULL,
    add_user_details TINYINT(1) NOT NULL,
    add_room_details TINYINT(1) NOT NULL,
    xslt VARCHAR(1024) NOT NULL,
    events INT UNSIGNED NOT NULL,
    node VARCHAR(64) CHARACTER SET ascii NOT NULL,   -- who took it
    attempts INT UNSIGNED NOT NULL DEFAULT 0,
    created DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Sender/@id of Lync's XML: a stable number per user, assigned when first exported.
CREATE TABLE IF NOT EXISTS pchat_compliance_user (
    id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uri VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    UNIQUE KEY compliance_user_idx (uri)
) ENGINE=InnoDB;

-- The service's settings (Set-CsPersistentChatComplianceConfiguration): one row. adapter 'none'
-- records nothing (Lync: no adapter type, no compliance).
CREATE TABLE IF NOT EXISTS pchat_compliance_config (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    adapter ENUM('none', 'xml', 'jsonl') NOT NULL DEFAULT 'none',
    output_dir VARCHAR(1024) NOT NULL DEFAULT '',
    run_interval INT UNSIGNED NOT NULL DEFAULT 900,
    one_room_per_file TINYINT(1) NOT NULL DEFAULT 0,
    add_user_details TINYINT(1) NOT NULL DEFAULT 0,
    add_room_details TINYINT(1) NOT NULL DEFAULT 0,
    xslt VARCHAR(1024) NOT NULL DEFAULT '',
    batch_size INT UNSIGNED NOT NULL DEFAULT 10000,
    modified DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT IGNORE INTO pchat_compliance_config (id) VALUES (1);

-- Lync's one state row: the active worker (node) and its lease, the last event id processed
-- (for the status only: batches are never chosen by it), the last run and its error.
CREATE TABLE IF NOT EXISTS pchat_compliance_state (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    node VARCHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '',
    lease_expires DATETIME(6) NOT NULL DEFAULT '1970-01-01 00:00:00',
    last_processed_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
    exported BIGINT UNSIGNED NOT NULL DEFAULT 0,
    last_run DATETIME(6) NULL,
    last_success DATETIME(6) NULL,
    last_error VARCHAR(1024) NOT NULL DEFAULT '',
    run_requested TINYINT(1) NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT IGNORE INTO pchat_compliance_state (id) VALUES (1);

INSERT INTO version (table_name, table_version) VALUES
    ('pchat_compliance_event', 1),
    ('pchat_compliance_batch', 1),
    ('pchat_compliance_user', 1),
    ('pchat_compliance_config', 1),
    ('pchat_compliance_state', 1),
    ('pchat_schema', 5)
ON DUPLICATE KEY UPDATE table_version = GREATEST(table_version, VALUES(table_version));
