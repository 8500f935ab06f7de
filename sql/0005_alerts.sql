-- 0005: alerts key on stories (one email per subscriber and story, however many copies),
-- the SMTP reply is kept, daily digests have their own outbox, and every change to a
-- subscription (unsubscribe, preferences) leaves an audit row.

ALTER TABLE alerts ADD COLUMN story_id bigint REFERENCES stories(id) ON DELETE SET NULL;
ALTER TABLE alerts ADD CONSTRAINT alerts_subscriber_story UNIQUE (subscriber_id, story_id);
ALTER TABLE alerts ADD COLUMN smtp_response text;
COMMENT ON COLUMN alerts.story_id IS 'Story the alert is about; unique per subscriber, so copies of a story never alert twice.';
COMMENT ON COLUMN alerts.smtp_response IS 'The SMTP server''s reply when it accepted the message (code and text, e.g. queue id).';

CREATE TABLE digests (
    id               bigserial PRIMARY KEY,
    subscriber_id    bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    local_date       date NOT NULL,
    period_start     timestamptz NOT NULL,
    period_end       timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    story_count      integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    message_id       text,
    smtp_response    text,
    last_error       text,
    UNIQUE (subscriber_id, local_date)
);
CREATE INDEX digests_pending ON digests (next_attempt_at) WHERE status = 'pending';
COMMENT ON TABLE digests IS 'The daily digest outbox: one row per subscriber and local date, so a digest is built and sent once.';
COMMENT ON COLUMN digests.id IS 'Surrogate key.';
COMMENT ON COLUMN digests.subscriber_id IS 'Recipient.';
COMMENT ON COLUMN digests.local_date IS 'The date, in the subscriber''s time zone, the digest is for.';
COMMENT ON COLUMN digests.period_start IS 'Articles first stored from this time on are covered (the previous digest''s period_end).';
COMMENT ON COLUMN digests.period_end IS 'Articles first stored before this time are covered.';
COMMENT ON COLUMN digests.status IS 'pending, sent, failed (gave up) or skipped (nothing to send, or unsubscribed).';
COMMENT ON COLUMN digests.story_count IS 'How many stories the digest lists.';
COMMENT ON COLUMN digests.created_at IS 'When the digest was built.';
COMMENT ON COLUMN digests.sent_at IS 'When the SMTP server accepted it.';
COMMENT ON COLUMN digests.attempts IS 'Delivery attempts so far.';
COMMENT ON COLUMN digests.next_attempt_at IS 'Not before this time (retry backoff).';
COMMENT ON COLUMN digests.message_id IS 'Message-ID header of the sent email.';
COMMENT ON COLUMN digests.smtp_response IS 'The SMTP server''s reply when it accepted the message.';
COMMENT ON COLUMN digests.last_error IS 'SMTP error of the last failed attempt.';

CREATE TABLE digest_items (
    digest_id      bigint NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
    subscriber_id  bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    article_id     bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    story_id       bigint REFERENCES stories(id) ON DELETE SET NULL,
    watchlist      text NOT NULL,
    catch_up       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (digest_id, article_id),
    UNIQUE (subscriber_id, story_id),
    UNIQUE (subscriber_id, article_id)
);
COMMENT ON TABLE digest_items IS 'Stories listed in each digest; unique per subscriber, so a story is never listed in two digests.';
COMMENT ON COLUMN digest_items.digest_id IS 'The digest.';
COMMENT ON COLUMN digest_items.subscriber_id IS 'Recipient (repeated from the digest for the uniqueness rule).';
COMMENT ON COLUMN digest_items.article_id IS 'Article shown for the story (its first copy stored in the period).';
COMMENT ON COLUMN digest_items.story_id IS 'The story.';
COMMENT ON COLUMN digest_items.watchlist IS 'Watchlist whose match put the story in the digest.';
COMMENT ON COLUMN digest_items.catch_up IS 'Published before the period began: older news found late (new source, backfill).';

CREATE TABLE subscriber_events (
    id             bigserial PRIMARY KEY,
    subscriber_id  bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    at             timestamptz NOT NULL DEFAULT now(),
    action         text NOT NULL CHECK (action IN ('subscribe', 'unsubscribe', 'update')),
    via            text NOT NULL,
    detail         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id, at);
COMMENT ON TABLE subscriber_events IS 'Audit of subscription changes: who unsubscribed or changed preferences, when and how.';
COMMENT ON COLUMN subscriber_events.id IS 'Surrogate key.';
COMMENT ON COLUMN subscriber_events.subscriber_id IS 'The subscriber.';
COMMENT ON COLUMN subscriber_events.at IS 'When it happened.';
COMMENT ON COLUMN subscriber_events.action IS 'subscribe, unsubscribe or update.';
COMMENT ON COLUMN subscriber_events.via IS 'Where: one-click (RFC 8058 POST from a mail client), web, cli or import.';
COMMENT ON COLUMN subscriber_events.detail IS 'What changed (field: new value).';
