-- 0022: immediate alerts per event. A subscriber's first alert about an event is unique per
-- (subscriber, event); later pieces of the event send nothing, except an update when the
-- event grew materially since the subscriber's last email about it, at most one per sent
-- email (unique `follows`), and queued at most every 6 hours (pipeline/alerts/outbox.py).
-- A story without an event is its own event: its first alert stays unique per story.

ALTER TABLE alerts ADD COLUMN kind text NOT NULL DEFAULT 'first'
    CHECK (kind IN ('first', 'update'));
ALTER TABLE alerts ADD COLUMN event_id bigint REFERENCES events(id) ON DELETE SET NULL;
ALTER TABLE alerts ADD COLUMN follows bigint REFERENCES alerts(id) ON DELETE SET NULL;
ALTER TABLE alerts ADD COLUMN shown_outlets text[];
ALTER TABLE alerts ADD COLUMN shown_languages text[];

-- Updates point at an article of a story already alerted, so (subscriber, story) is unique
-- for first alerts only; an article still alerts a subscriber once (subscriber, article).
ALTER TABLE alerts DROP CONSTRAINT alerts_subscriber_story;
CREATE UNIQUE INDEX alerts_first_story ON alerts (subscriber_id, story_id) WHERE kind = 'first';
CREATE UNIQUE INDEX alerts_first_event ON alerts (subscriber_id, event_id)
    WHERE kind = 'first' AND event_id IS NOT NULL;
CREATE UNIQUE INDEX alerts_follows ON alerts (follows);
CREATE INDEX alerts_subscriber_event ON alerts (subscriber_id, event_id);
CREATE INDEX alerts_pending_subscriber ON alerts (subscriber_id) WHERE status = 'pending';

COMMENT ON TABLE alerts IS
    'The email outbox: a subscriber''s first alert about an event (or a story without one), and updates when the event grew; one email carries all of a subscriber''s due rows.';
COMMENT ON COLUMN alerts.kind IS
    'first: the first relevant article of an event for this subscriber; update: the event grew materially (a new language, outlets doubled) since the email in `follows`.';
COMMENT ON COLUMN alerts.event_id IS
    'The event the alert is about (stories.event_id at queueing); NULL: the story has no event and stands for one.';
COMMENT ON COLUMN alerts.follows IS
    'For an update: the sent alert about the same event it follows; unique, so an email gets at most one update.';
COMMENT ON COLUMN alerts.shown_outlets IS
    'Outlets of the event the sent email named (set when sent): the baseline the next update compares with.';
COMMENT ON COLUMN alerts.shown_languages IS
    'Languages of the event the sent email named (set when sent): the baseline the next update compares with.';
COMMENT ON COLUMN alerts.story_id IS
    'Story of the article; a first alert is unique per subscriber and story, so copies of a story never alert twice.';
COMMENT ON COLUMN alerts.article_id IS
    'The article that queued the alert: the event''s first relevant piece (first) or the piece that made it grow (update).';
COMMENT ON COLUMN alerts.created_at IS
    'When the alert was queued (same transaction as the match). It is sent no earlier than NEWSMON_ALERT_BATCH_MINUTES later, with the subscriber''s other pending alerts.';
COMMENT ON COLUMN subscribers.created_at IS
    'When the subscriber joined; immediate alerts cover articles newsmon first stored from then on (and published within the alert window).';
COMMENT ON COLUMN subscribers.mode IS
    'immediate (one email per event, batched, with updates) or daily (one digest a day).';
