-- kamailio-pchat migration 003: the tables of Kamailio's own authentication modules, in the chat
-- database, so the routing blocks (kamailio-cfg/pchat-auth.cfg) can authenticate chat clients.
--
--  * `subscriber` (auth_db, table version 7): users and their digest credentials, for
--    PCHAT_AUTH_DIGEST. ha1 = MD5(username:realm:password), ha1b = MD5(username@domain:realm:password);
--    the realm is the chat domain. Leave `password` empty: auth_db reads ha1.
--  * `address` (permissions, table version 6): the trusted peers of PCHAT_AUTH_TRUSTED, by group
--    (grp): the addresses of the front ends the nodes trust, of the SBCs a front end trusts.
--
-- Both are exactly Kamailio 5.6's definitions (utils/kamctl/mysql/auth_db-create.sql and
-- permissions-create.sql), made idempotent. Kamailio's own tools (kamctl, kamcli) manage them.

CREATE TABLE IF NOT EXISTS `subscriber` (
    `id` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `username` VARCHAR(64) DEFAULT '' NOT NULL,
    `domain` VARCHAR(64) DEFAULT '' NOT NULL,
    `password` VARCHAR(64) DEFAULT '' NOT NULL,
    `ha1` VARCHAR(128) DEFAULT '' NOT NULL,
    `ha1b` VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT account_idx UNIQUE (`username`, `domain`)
);

CREATE INDEX IF NOT EXISTS username_idx ON subscriber (`username`);

CREATE TABLE IF NOT EXISTS `address` (
    `id` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `grp` INT(11) UNSIGNED DEFAULT 1 NOT NULL,
    `ip_addr` VARCHAR(50) NOT NULL,
    `mask` INT DEFAULT 32 NOT NULL,
    `port` SMALLINT(5) UNSIGNED DEFAULT 0 NOT NULL,
    `tag` VARCHAR(64)
);

INSERT INTO version (table_name, table_version) VALUES
    ('subscriber', 7),
    ('address', 6),
    ('pchat_schema', 3)
ON DUPLICATE KEY UPDATE table_version = GREATEST(table_version, VALUES(table_version));
