-- 0018: a service's own errors (issue 20). A source whose query or key the service rejects
-- (GDELT "keywords too short", NewsAPI apiKeyInvalid) is 'misconfigured': no backoff, a
-- human fixes it. A rate limit is no failure of the source: it neither counts toward the
-- error streak nor makes the source failing or dead. Both show in feed_health.health.
-- fetch_log.error_class says which ('misconfigured', 'rate-limited').

ALTER TABLE sources DROP CONSTRAINT sources_status_check;
ALTER TABLE sources ADD CONSTRAINT sources_status_check
    CHECK (status IN ('active', 'failing', 'misconfigured', 'disabled'));

COMMENT ON COLUMN sources.status IS
    'The scheduler''s mode, not a health verdict (that is feed_health.health): active; failing '
    '(many failures in a row: polled rarely); misconfigured (the service rejected the query or '
    'key: polled rarely, or once its entry in the sources file changes; last_error says why); '
    'disabled (410 Gone or removed by the user: not polled).';
COMMENT ON COLUMN sources.error_streak IS
    'Consecutive failed polls (a rate limit does not count); 0 after a success. Drives the '
    'exponential backoff.';
COMMENT ON COLUMN fetch_log.error_class IS
    'Error kind when status = error: timeout, http-status, parse, ...; misconfigured (the '
    'service rejected the query or key); rate-limited (the service asked us to slow down).';

CREATE OR REPLACE VIEW feed_health AS
SELECT s.id AS source_id,
       s.name,
       s.kind,
       s.url,
       s.enabled,
       last_poll.started_at AS last_polled_at,
       last_poll.status AS last_status,
       last_ok.started_at AS last_success_at,
       streak.errors AS error_streak,
       last_error.error_message AS last_error,
       week.polls AS polls_7d,
       week.errors AS errors_7d,
       round(week.items_new / 7.0, 2) AS new_items_per_day_7d,
       week.median_ms AS median_poll_ms_7d,
       -- The values and why each exists: pipeline/store/sources.py HEALTH_STATES.
       CASE WHEN NOT s.enabled THEN 'disabled'
            WHEN last_poll.started_at IS NULL THEN 'never-polled'
            WHEN last_poll.status <> 'error' THEN 'ok'
            WHEN last_poll.error_class = 'misconfigured' THEN 'misconfigured'
            WHEN last_poll.error_class = 'rate-limited' THEN 'rate-limited'
            WHEN last_ok.started_at > now() - interval '7 days' THEN 'failing'
            ELSE 'dead' END AS health
FROM sources s
LEFT JOIN LATERAL (
    SELECT f.started_at, f.status, f.error_class FROM fetch_log f
    WHERE f.source_id = s.id AND f.status <> 'skipped' ORDER BY f.started_at DESC LIMIT 1
) last_poll ON true
LEFT JOIN LATERAL (
    SELECT f.started_at FROM fetch_log f
    WHERE f.source_id = s.id AND f.status IN ('ok', 'not-modified')
    ORDER BY f.started_at DESC LIMIT 1
) last_ok ON true
LEFT JOIN LATERAL (
    SELECT f.error_message FROM fetch_log f
    WHERE f.source_id = s.id AND f.status = 'error' ORDER BY f.started_at DESC LIMIT 1
) last_error ON true
CROSS JOIN LATERAL (
    SELECT count(*) AS errors FROM fetch_log f
    WHERE f.source_id = s.id AND f.status = 'error'
      AND f.error_class IS DISTINCT FROM 'rate-limited'
      AND f.started_at > coalesce(last_ok.started_at, '-infinity')
) streak
CROSS JOIN LATERAL (
    SELECT count(*) AS polls,
           count(*) FILTER (WHERE f.status = 'error') AS errors,
           coalesce(sum(f.items_new), 0) AS items_new,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY f.duration_ms) AS median_ms
    FROM fetch_log f
    WHERE f.source_id = s.id AND f.status <> 'skipped'
      AND f.started_at > now() - interval '7 days'
) week;

COMMENT ON COLUMN feed_health.error_streak IS
    'Failed polls since the last success (0: healthy); a rate limit is no failure of the '
    'source and does not count.';
COMMENT ON COLUMN feed_health.errors_7d IS
    'Polls answered with an error in the last 7 days, rate limits included.';
COMMENT ON COLUMN feed_health.health IS
    'ok (last poll worked); misconfigured (the service rejected the query or key: fix the '
    'source; last_error says why); failing (last poll failed, one worked within 7 days); '
    'rate-limited (the service asked us to slow down: the next poll waits); dead (none worked '
    'for 7 days, or ever); never-polled; disabled (410 Gone or removed: not polled).';
