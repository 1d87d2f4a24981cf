-- kamailio-pchat migration 004: who may use Persistent Chat (Lync's Persistent Chat policy).
--
-- A rule enables or disables Persistent Chat for everyone ('*'), for a SIP domain ('example.com')
-- or for one user ('sip:alice@example.com'); the most specific rule that exists wins, and without
-- any rule everyone is enabled. The module checks it when a session starts and in the in-band
-- provisioning document, and ends the sessions of users a changed rule disables
-- (pchat.policy.* RPC commands).

CREATE TABLE IF NOT EXISTS pchat_policy (
    principal VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL PRIMARY KEY,
    enabled TINYINT(1) NOT NULL,
    modified DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO version (table_name, table_version) VALUES
    ('pchat_policy', 1),
    ('pchat_schema', 4)
ON DUPLICATE KEY UPDATE table_version = GREATEST(table_version, VALUES(table_version));
