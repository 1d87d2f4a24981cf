-- kamailio-pchat schema, migration 001: the room model, messages, per-user state, settings.
--
-- Conventions
--  * Every table of the module is listed with its version in Kamailio's `version` table. The module
--    refuses to start when a table is older than it needs and names the migration to apply.
--  * `version` row 'pchat_schema' holds the number of the last migration applied (scripts/db-migrate).
--  * Migrations are idempotent (IF NOT EXISTS) so an interrupted run can simply be repeated.
--  * Times are UTC, DATETIME(6). Principals are SIP URIs ('sip:alice@example.com', lower case) or
--    whole SIP domains ('example.com').
--  * Names compare case-insensitively (utf8mb4_unicode_ci), as Lync does.

CREATE TABLE IF NOT EXISTS `version` (
    `id` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `table_name` VARCHAR(32) NOT NULL,
    `table_version` INT UNSIGNED DEFAULT 0 NOT NULL,
    CONSTRAINT table_name_idx UNIQUE (`table_name`)
);

-- A category groups rooms and scopes who may use them (Lync: New-CsPersistentChatCategory).
-- Defaults follow Lync: file upload and invitations off unless enabled, chat history on.
CREATE TABLE IF NOT EXISTS pchat_category (
    id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    guid CHAR(36) CHARACTER SET ascii NOT NULL,          -- ma-cat://<domain>/<guid>
    name VARCHAR(256) NOT NULL,
    description VARCHAR(1024) NOT NULL DEFAULT '',
    file_upload TINYINT(1) NOT NULL DEFAULT 0,
    invitations TINYINT(1) NOT NULL DEFAULT 0,
    chat_history TINYINT(1) NOT NULL DEFAULT 1,
    created DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    modified DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    UNIQUE KEY category_guid_idx (guid),
    UNIQUE KEY category_name_idx (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Allowed members, denied members (denied beats allowed) and creators of a category.
CREATE TABLE IF NOT EXISTS pchat_category_principal (
    category_id INT UNSIGNED NOT NULL,
    role ENUM('allowed', 'denied', 'creator') NOT NULL,
    principal VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    PRIMARY KEY (category_id, role, principal),
    KEY category_principal_idx (principal),
    CONSTRAINT category_principal_fk FOREIGN KEY (category_id)
        REFERENCES pchat_category (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A room (Lync: New-CsPersistentChatRoom). last_seq is the sequence number of the room's newest
-- message: a post takes last_seq + 1 under the row lock, so a room's messages are numbered
-- 1, 2, 3, ... in commit order without gaps.
CREATE TABLE IF NOT EXISTS pchat_room (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    guid CHAR(36) CHARACTER SET ascii NOT NULL,          -- ma-chan://<domain>/<guid>
    name VARCHAR(256) NOT NULL,
    description VARCHAR(1024) NOT NULL DEFAULT '',
    topic VARCHAR(1024) NOT NULL DEFAULT '',
    category_id INT UNSIGNED NOT NULL,
    privacy ENUM('open', 'closed', 'secret') NOT NULL DEFAULT 'closed',
    type ENUM('normal', 'auditorium') NOT NULL DEFAULT 'normal',
    disabled TINYINT(1) NOT NULL DEFAULT 0,
    invitations ENUM('inherit', 'on', 'off') NOT NULL DEFAULT 'inherit',
    addin_url VARCHAR(1024) NULL,
    last_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
    created DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    modified DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    UNIQUE KEY room_guid_idx (guid),
    UNIQUE KEY room_name_idx (name),
    KEY room_category_idx (category_id),
    CONSTRAINT room_category_fk FOREIGN KEY (category_id) REFERENCES pchat_category (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Members, managers and presenters of a room (users or whole domains).
CREATE TABLE IF NOT EXISTS pchat_room_principal (
    room_id BIGINT UNSIGNED NOT NULL,
    role ENUM('member', 'manager', 'presenter') NOT NULL,
    principal VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    PRIMARY KEY (room_id, role, principal),
    KEY room_principal_idx (principal, role),
    CONSTRAINT room_principal_fk FOREIGN KEY (room_id) REFERENCES pchat_room (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The persistent history. content is the post's XML content (the children of <grpchat>) as the
-- author's client sent it; moderation replaces it and sets moderated, keeping seq, author and ts.
CREATE TABLE IF NOT EXISTS pchat_message (
    room_id BIGINT UNSIGNED NOT NULL,
    seq BIGINT UNSIGNED NOT NULL,
    author VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    ts DATETIME(6) NOT NULL,
    content MEDIUMTEXT NOT NULL,
    moderated TINYINT(1) NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, seq),
    CONSTRAINT message_room_fk FOREIGN KEY (room_id) REFERENCES pchat_room (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Rooms a user follows: the list a client joins at login with bjoin.
CREATE TABLE IF NOT EXISTS pchat_follow (
    user VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    room_id BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (user, room_id),
    CONSTRAINT follow_room_fk FOREIGN KEY (room_id) REFERENCES pchat_room (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Opaque per-user preference bundles (getpref/setpref); seqid is the bundle's revision.
CREATE TABLE IF NOT EXISTS pchat_preference (
    user VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    label VARCHAR(255) NOT NULL,
    seqid BIGINT UNSIGNED NOT NULL DEFAULT 0,
    content MEDIUMTEXT NOT NULL,
    modified DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    PRIMARY KEY (user, label)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Invitations to rooms; ids increase so a client asks for those newer than the last it saw.
CREATE TABLE IF NOT EXISTS pchat_invitation (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    user VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    room_id BIGINT UNSIGNED NOT NULL,
    inviter VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL DEFAULT '',
    created DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    KEY invitation_user_idx (user, id),
    CONSTRAINT invitation_room_fk FOREIGN KEY (room_id) REFERENCES pchat_room (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Pool-wide service settings (pchat.config.set); a missing row means the module parameter's value.
CREATE TABLE IF NOT EXISTS pchat_config (
    name VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    value VARCHAR(255) NOT NULL,
    modified DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO version (table_name, table_version) VALUES
    ('version', 1),
    ('pchat_category', 1),
    ('pchat_category_principal', 1),
    ('pchat_room', 1),
    ('pchat_room_principal', 1),
    ('pchat_message', 1),
    ('pchat_follow', 1),
    ('pchat_preference', 1),
    ('pchat_invitation', 1),
    ('pchat_config', 1),
    ('pchat_schema', 1)
ON DUPLICATE KEY UPDATE table_version = GREATEST(table_version, VALUES(table_version));
