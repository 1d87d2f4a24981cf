-- kamailio-pchat migration 007: the room-management web application (sign-in sessions, API
-- tokens, administrators, throttling of failed sign-ins) and room versions.
--
-- Secrets are kept as their SHA-256 only (hex): the tables do not hold what would let someone
-- use a session or a token. Sessions and throttling live here, not on a node, so any node of the
-- pool serves any user.

-- Every change of a room or its principals, whoever makes it (the page, the JSON API, the RPC
-- commands), adds one: a change based on an older version is refused as stale.
ALTER TABLE pchat_room ADD COLUMN IF NOT EXISTS version BIGINT UNSIGNED NOT NULL DEFAULT 1;

-- A signed-in browser. expires moves with each request (web_session_idle), never past
-- ends (created + web_session_lifetime). csrf is the token changes must carry in X-CSRF-Token.
CREATE TABLE IF NOT EXISTS pchat_web_session (
    id_hash CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    principal VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    csrf CHAR(64) CHARACTER SET ascii NOT NULL,
    via ENUM('password', 'sso') NOT NULL,
    address VARCHAR(64) CHARACTER SET ascii NOT NULL DEFAULT '',
    created DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    expires DATETIME(6) NOT NULL,
    ends DATETIME(6) NOT NULL,
    KEY web_session_principal_idx (principal),
    KEY web_session_expires_idx (expires)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- API tokens an administrator issued (pchat.web.token.issue) for scripts; expires NULL: never.
CREATE TABLE IF NOT EXISTS pchat_web_token (
    id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    token_hash CHAR(64) CHARACTER SET ascii NOT NULL,
    principal VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    label VARCHAR(255) NOT NULL DEFAULT '',
    created DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    expires DATETIME(6) NULL,
    last_used DATETIME(6) NULL,
    UNIQUE KEY web_token_hash_idx (token_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The pool's administrators of the web application (pchat.web.admin.*): SIP URIs.
CREATE TABLE IF NOT EXISTS pchat_web_admin (
    principal VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL PRIMARY KEY,
    created DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed sign-ins, per user ('user:sip:...') and per address ('addr:...'), in the current
-- window; blocked_until is set once there were too many.
CREATE TABLE IF NOT EXISTS pchat_web_login_failure (
    subject VARCHAR(300) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL PRIMARY KEY,
    failures INT UNSIGNED NOT NULL DEFAULT 0,
    window_start DATETIME(6) NOT NULL,
    blocked_until DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO version (table_name, table_version) VALUES
    ('pchat_room', 3),
    ('pchat_web_session', 1),
    ('pchat_web_token', 1),
    ('pchat_web_admin', 1),
    ('pchat_web_login_failure', 1),
    ('pchat_schema', 7)
ON DUPLICATE KEY UPDATE table_version = GREATEST(table_version, VALUES(table_version));
