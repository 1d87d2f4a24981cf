-- kamailio-pchat migration 002: room search that stays fast with 100,000 rooms, and the posts'
-- sequence numbers in a table of their own.
--
-- A case-insensitive substring search (LIKE '%text%') cannot use a B-tree index. Every room name
-- is therefore also kept as its trigrams (each run of 3 characters, compared case-insensitively
-- by the collation); a search for a text of 3 or more characters first finds the rooms that have
-- its trigrams through the index, then checks the LIKE on those few. Triggers keep the trigrams
-- in step with the names, whatever inserts or renames a room (the module, SQL, bulk imports).

CREATE TABLE IF NOT EXISTS pchat_room_trigram (
    trigram VARCHAR(3) NOT NULL,
    room_id BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (trigram, room_id),
    KEY room_trigram_room_idx (room_id),
    CONSTRAINT room_trigram_fk FOREIGN KEY (room_id) REFERENCES pchat_room (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

DROP PROCEDURE IF EXISTS pchat_index_room_name;
DELIMITER //
CREATE PROCEDURE pchat_index_room_name(IN p_room_id BIGINT UNSIGNED, IN p_name VARCHAR(256))
    MODIFIES SQL DATA
BEGIN
    DECLARE i INT DEFAULT 1;
    DECLARE n INT DEFAULT CHAR_LENGTH(p_name);
    DELETE FROM pchat_room_trigram WHERE room_id = p_room_id;
    WHILE i + 2 <= n DO
        INSERT IGNORE INTO pchat_room_trigram (trigram, room_id)
            VALUES (SUBSTRING(p_name, i, 3), p_room_id);
        SET i = i + 1;
    END WHILE;
END//

DROP TRIGGER IF EXISTS pchat_room_trigram_ai//
CREATE TRIGGER pchat_room_trigram_ai AFTER INSERT ON pchat_room FOR EACH ROW
BEGIN
    CALL pchat_index_room_name(NEW.id, NEW.name);
END//

DROP TRIGGER IF EXISTS pchat_room_trigram_au//
CREATE TRIGGER pchat_room_trigram_au AFTER UPDATE ON pchat_room FOR EACH ROW
BEGIN
    IF NOT (NEW.name <=> OLD.name) THEN
        CALL pchat_index_room_name(NEW.id, NEW.name);
    END IF;
END//
DELIMITER ;

-- Rooms that exist already.
INSERT IGNORE INTO pchat_room_trigram (trigram, room_id)
    SELECT SUBSTRING(r.name, s.i, 3), r.id
    FROM pchat_room r
    JOIN (SELECT a.n * 16 + b.n + 1 AS i
          FROM (SELECT 0 n UNION SELECT 1 UNION SELECT 2 UNION SELECT 3 UNION SELECT 4
                UNION SELECT 5 UNION SELECT 6 UNION SELECT 7 UNION SELECT 8 UNION SELECT 9
                UNION SELECT 10 UNION SELECT 11 UNION SELECT 12 UNION SELECT 13 UNION SELECT 14
                UNION SELECT 15) a,
               (SELECT 0 n UNION SELECT 1 UNION SELECT 2 UNION SELECT 3 UNION SELECT 4
                UNION SELECT 5 UNION SELECT 6 UNION SELECT 7 UNION SELECT 8 UNION SELECT 9
                UNION SELECT 10 UNION SELECT 11 UNION SELECT 12 UNION SELECT 13 UNION SELECT 14
                UNION SELECT 15) b) s
      ON s.i + 2 <= CHAR_LENGTH(r.name);

-- Rooms are listed by name among the visible ones.
ALTER TABLE pchat_room ADD INDEX IF NOT EXISTS room_listing_idx (disabled, name);

-- The sequence number of each room's newest post. A post takes the next one under this row's
-- lock, so a room's posts are numbered in commit order without gaps. It lives apart from
-- pchat_room so that a post neither waits for an administrator's change of the room nor fires
-- the room's triggers (with a trigger on the table, the server no longer hands back the number
-- set with LAST_INSERT_ID(expr)). A room without a row has no posts yet.
CREATE TABLE IF NOT EXISTS pchat_room_sequence (
    room_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    last_seq BIGINT UNSIGNED NOT NULL,
    CONSTRAINT room_sequence_fk FOREIGN KEY (room_id) REFERENCES pchat_room (id) ON DELETE CASCADE
) ENGINE=InnoDB;

DROP PROCEDURE IF EXISTS pchat_migrate_002_sequences;
DELIMITER //
CREATE PROCEDURE pchat_migrate_002_sequences() MODIFIES SQL DATA
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
               AND TABLE_NAME = 'pchat_room' AND COLUMN_NAME = 'last_seq') THEN
        INSERT IGNORE INTO pchat_room_sequence (room_id, last_seq)
            SELECT id, last_seq FROM pchat_room WHERE last_seq > 0;
        ALTER TABLE pchat_room DROP COLUMN last_seq;
    END IF;
END//
DELIMITER ;
CALL pchat_migrate_002_sequences();
DROP PROCEDURE pchat_migrate_002_sequences;

INSERT INTO version (table_name, table_version) VALUES
    ('pchat_room', 2),
    ('pchat_room_trigram', 1),
    ('pchat_room_sequence', 1),
    ('pchat_schema', 2)
ON DUPLICATE KEY UPDATE table_version = GREATEST(table_version, VALUES(table_version));
