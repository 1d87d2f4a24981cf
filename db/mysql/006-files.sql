-- kamailio-pchat migration 006: files posted to rooms (Lync's Persistent Chat file repository).
--
-- A client asks over XCCOS for a token (cmd:getfutok, cmd:getfdtok), then moves the file in
-- chunks over the module's HTTPS service. The bytes live on disk under the repository root
-- (file_root), as <room guid>/<stored name>; this table holds what is known of each file.
-- Tokens are kept as their SHA-256 only: the table does not hold what would let someone
-- transfer a file.

-- One file of a room. The stored name is always the service's own (<guid>.<ext>); the name
-- the user gave is kept apart and only ever shown, never used as a path. state: 'uploading'
-- while chunks arrive (size counts the bytes received, length is the size announced),
-- 'complete' once the last chunk is in place (sha256 set), 'removing' once the room or a
-- moderator removed it: the bytes go only after the compliance service exported every event
-- that may name the file (those with an id up to event_bound, in its room). No foreign key to
-- the room: its files outlive it until then.
CREATE TABLE IF NOT EXISTS pchat_file (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    room_id BIGINT UNSIGNED NOT NULL,
    room_guid CHAR(36) CHARACTER SET ascii NOT NULL,
    name VARCHAR(64) CHARACTER SET ascii NOT NULL,
    original_name VARCHAR(255) NOT NULL,
    content_type VARCHAR(127) CHARACTER SET ascii NOT NULL DEFAULT 'application/octet-stream',
    length BIGINT UNSIGNED NULL,
    size BIGINT UNSIGNED NOT NULL DEFAULT 0,
    sha256 CHAR(64) CHARACTER SET ascii NULL,
    uploader VARCHAR(320) NOT NULL,
    created DATETIME(6) NOT NULL,
    completed DATETIME(6) NULL,
    state ENUM('uploading', 'complete', 'removing') NOT NULL DEFAULT 'uploading',
    removed DATETIME(6) NULL,
    event_bound BIGINT UNSIGNED NOT NULL DEFAULT 0,
    UNIQUE KEY pchat_file_name_idx (room_id, name),
    KEY pchat_file_uploader_idx (uploader, state),
    KEY pchat_file_state_idx (state, created)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A token given out by getfutok/getfdtok: bound to a user, a room and a direction, valid until
-- expires. An upload token covers one upload (file_id, set when the name is asked for); a
-- download token one file (file_id, set when it is given). used: a download recorded its
-- FILEDOWNLOAD event (once per token).
CREATE TABLE IF NOT EXISTS pchat_file_token (
    token_hash BINARY(32) NOT NULL PRIMARY KEY,
    user VARCHAR(320) NOT NULL,
    room_id BIGINT UNSIGNED NOT NULL,
    direction ENUM('upload', 'download') NOT NULL,
    requested_name VARCHAR(255) NOT NULL,
    file_id BIGINT UNSIGNED NULL,
    used TINYINT(1) NOT NULL DEFAULT 0,
    created DATETIME(6) NOT NULL,
    expires DATETIME(6) NOT NULL,
    KEY pchat_file_token_expires_idx (expires)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO version (table_name, table_version) VALUES
    ('pchat_file', 1),
    ('pchat_file_token', 1),
    ('pchat_schema', 6)
ON DUPLICATE KEY UPDATE table_version = GREATEST(table_version, VALUES(table_version));
