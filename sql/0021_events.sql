-- 0021: events. A story folds copies of one text; an event joins the stories (different
-- texts, outlets and languages) that report one real-world happening, with the follow-ups
-- that mainly report on it. Assigned online as stories are created (pipeline/store/events.py);
-- immediate alerts and digests key on the event, so one happening is one email.

CREATE TABLE events (
    id             bigserial PRIMARY KEY,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    story_count    integer NOT NULL DEFAULT 1,
    outlets        text[] NOT NULL DEFAULT '{}',
    languages      text[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE events IS
    'One real-world happening: the stories (different texts, outlets, languages) that report it.';
COMMENT ON COLUMN events.id IS 'Surrogate key; stories.event_id and alerts refer to it.';
COMMENT ON COLUMN events.first_seen_at IS 'When newsmon first stored an article of the event.';
COMMENT ON COLUMN events.last_seen_at IS 'When the latest story joined or grew.';
COMMENT ON COLUMN events.story_count IS 'How many stories belong to the event.';
COMMENT ON COLUMN events.outlets IS
    'Distinct outlets (as stories.outlets names them) carrying any story of the event.';
COMMENT ON COLUMN events.languages IS 'Distinct languages of the event''s articles.';

ALTER TABLE stories ADD COLUMN event_id bigint REFERENCES events(id) ON DELETE SET NULL;
CREATE INDEX stories_event ON stories (event_id);
COMMENT ON COLUMN stories.event_id IS
    'The event the story reports (NULL: not assigned, e.g. stored before migration 0021).';

GRANT SELECT ON events TO newsmon_reader;
