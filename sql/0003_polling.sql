-- 0003: per-source schedule and health, and where a source came from.

ALTER TABLE sources
    ADD COLUMN origin          text NOT NULL DEFAULT 'file' CHECK (origin IN ('file', 'cli')),
    ADD COLUMN origin_url      text,
    ADD COLUMN status          text NOT NULL DEFAULT 'active'
                               CHECK (status IN ('active', 'failing', 'disabled')),
    ADD COLUMN next_poll_at    timestamptz,
    ADD COLUMN poll_interval   interval,
    ADD COLUMN error_streak    integer NOT NULL DEFAULT 0 CHECK (error_streak >= 0),
    ADD COLUMN items_per_day   real,
    ADD COLUMN last_polled_at  timestamptz,
    ADD COLUMN last_success_at timestamptz,
    ADD COLUMN last_error      text,
    ADD COLUMN disabled_reason text;

UPDATE sources SET origin_url = url WHERE origin_url IS NULL;
ALTER TABLE sources ALTER COLUMN origin_url SET NOT NULL;

CREATE INDEX sources_due ON sources (next_poll_at) WHERE enabled;

COMMENT ON COLUMN sources.origin IS
    'Where the source is defined: file (the sources file, synced every run) or cli (newsmon sources add / import-opml).';
COMMENT ON COLUMN sources.origin_url IS
    'URL as the sources file or the user gave it; url differs from it after a permanent redirect.';
COMMENT ON COLUMN sources.status IS
    'active; failing (many failures in a row: polled rarely); disabled (410 Gone or removed by the user: not polled).';
COMMENT ON COLUMN sources.next_poll_at IS
    'The source is due once this time has come; NULL: due now (never polled).';
COMMENT ON COLUMN sources.poll_interval IS
    'Current interval between polls when healthy, adapted to items_per_day within the configured bounds.';
COMMENT ON COLUMN sources.error_streak IS
    'Consecutive failed polls; 0 after a success. Drives the exponential backoff.';
COMMENT ON COLUMN sources.items_per_day IS
    'Estimated publishing rate (entries per day), from the entry dates of the last successful poll.';
COMMENT ON COLUMN sources.last_polled_at IS 'When the source was last polled, whatever the outcome.';
COMMENT ON COLUMN sources.last_success_at IS 'When a poll last succeeded (200 or 304).';
COMMENT ON COLUMN sources.last_error IS 'Message of the last failed poll (stage-prefixed); NULL after a success.';
COMMENT ON COLUMN sources.disabled_reason IS 'Why status is disabled (e.g. HTTP 410 Gone, removed by the user).';
COMMENT ON COLUMN sources.enabled IS
    'False when the source is disabled (410 Gone, or removed with newsmon sources remove); not polled.';

-- A poll can be skipped without touching the network (e.g. a keyed API with no key configured).
ALTER TABLE fetch_log DROP CONSTRAINT fetch_log_status_check;
ALTER TABLE fetch_log ADD CONSTRAINT fetch_log_status_check
    CHECK (status IN ('ok', 'not-modified', 'error', 'skipped'));
COMMENT ON COLUMN fetch_log.status IS
    'ok, not-modified (304), error, or skipped (not attempted, e.g. no API key; see error_message).';
