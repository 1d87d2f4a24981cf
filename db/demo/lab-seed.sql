-- Demo data of the lab (scripts/lab substitutes @DOMAIN@ and @DEMO_ROOM_GUID@). Safe to apply on
-- every start: existing rows, and the history posted since, are kept.
--
-- Users alice, bob and carol of @DOMAIN@: alice creates rooms in the Lab category, carol
-- administers the room-management web application. Rooms cover every privacy and type:
--   Lobby          open    normal      anyone in @DOMAIN@ may join and post (the demo room)
--   Engineering    closed  normal      members alice, bob; manager alice
--   Board          secret  normal      members alice; manager alice (hidden from others)
--   Announcements  open    auditorium  anyone joins, only the presenter alice posts
--   Town Hall      closed  auditorium  members alice, bob, carol; presenter bob
--   Skunkworks     secret  auditorium  members alice, carol; presenter carol
--   Old Projects   closed  normal      disabled: nobody may join

INSERT IGNORE INTO pchat_category (id, guid, name, description, file_upload, invitations, chat_history)
VALUES (1, '0d3f5b2a-6c1e-4e8a-9b7d-1a2b3c4d5e6f', 'Lab', 'Rooms of the kamailio-pchat lab', 1, 1, 1);

INSERT IGNORE INTO pchat_category_principal (category_id, role, principal) VALUES
    (1, 'allowed', '@DOMAIN@'),
    (1, 'creator', 'sip:alice@@DOMAIN@');

INSERT IGNORE INTO pchat_room (id, guid, name, description, topic, category_id, privacy, type, disabled)
VALUES
    (1, '@DEMO_ROOM_GUID@', 'Lobby', 'Open room: everyone of @DOMAIN@ is welcome',
        'Say hello', 1, 'open', 'normal', 0),
    (2, '5e1f0a3c-7b2d-4c8e-9a61-0d2f4b6c8e02', 'Engineering', 'Closed room of the engineers',
        'Release planning', 1, 'closed', 'normal', 0),
    (3, '5e1f0a3c-7b2d-4c8e-9a61-0d2f4b6c8e03', 'Board', 'Secret room of the board',
        'Confidential', 1, 'secret', 'normal', 0),
    (4, '5e1f0a3c-7b2d-4c8e-9a61-0d2f4b6c8e04', 'Announcements', 'Open auditorium: alice presents',
        'News', 1, 'open', 'auditorium', 0),
    (5, '5e1f0a3c-7b2d-4c8e-9a61-0d2f4b6c8e05', 'Town Hall', 'Closed auditorium: bob presents',
        'Questions welcome', 1, 'closed', 'auditorium', 0),
    (6, '5e1f0a3c-7b2d-4c8e-9a61-0d2f4b6c8e06', 'Skunkworks', 'Secret auditorium: carol presents',
        'Hush', 1, 'secret', 'auditorium', 0),
    (7, '5e1f0a3c-7b2d-4c8e-9a61-0d2f4b6c8e07', 'Old Projects', 'Disabled room',
        'Archived', 1, 'closed', 'normal', 1);

INSERT IGNORE INTO pchat_room_principal (room_id, role, principal) VALUES
    (1, 'manager', 'sip:alice@@DOMAIN@'),
    (2, 'member', 'sip:alice@@DOMAIN@'), (2, 'member', 'sip:bob@@DOMAIN@'),
    (2, 'manager', 'sip:alice@@DOMAIN@'),
    (3, 'member', 'sip:alice@@DOMAIN@'), (3, 'manager', 'sip:alice@@DOMAIN@'),
    (4, 'presenter', 'sip:alice@@DOMAIN@'), (4, 'manager', 'sip:alice@@DOMAIN@'),
    (5, 'member', 'sip:alice@@DOMAIN@'), (5, 'member', 'sip:bob@@DOMAIN@'),
    (5, 'member', 'sip:carol@@DOMAIN@'), (5, 'presenter', 'sip:bob@@DOMAIN@'),
    (6, 'member', 'sip:alice@@DOMAIN@'), (6, 'member', 'sip:carol@@DOMAIN@'),
    (6, 'presenter', 'sip:carol@@DOMAIN@'),
    (7, 'member', 'sip:alice@@DOMAIN@');

INSERT IGNORE INTO pchat_web_admin (principal) VALUES ('sip:carol@@DOMAIN@');

INSERT IGNORE INTO pchat_follow (user, room_id) VALUES
    ('sip:alice@@DOMAIN@', 1), ('sip:bob@@DOMAIN@', 1), ('sip:carol@@DOMAIN@', 1);
