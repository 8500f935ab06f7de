-- 0016: one notion of a source's health. `newsmon sources check`, the maintenance task's
-- report and researchers used to judge it three ways with two vocabularies; the rule now
-- lives here once, in feed_health.health, and the Python side reads this view.
--
-- Two fixes where the three disagreed: a skipped poll (nothing was requested, e.g. a keyed
-- API with no key) is no poll, as for the scheduler (it leaves the schedule unchanged), so it
-- is neither the last poll, nor counted among the week's polls, nor a latency; a source that
-- only ever skipped is never-polled.

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
            WHEN last_ok.started_at > now() - interval '7 days' THEN 'failing'
            ELSE 'dead' END AS health
FROM sources s
LEFT JOIN LATERAL (
    SELECT f.started_at, f.status FROM fetch_log f
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

COMMENT ON COLUMN feed_health.last_polled_at IS
    'When it was last polled (NULL: never; a skipped poll, which requested nothing, does not count).';
COMMENT ON COLUMN feed_health.polls_7d IS 'Polls in the last 7 days (skipped ones left out).';
COMMENT ON COLUMN feed_health.median_poll_ms_7d IS
    'Median wall time of a poll in the last 7 days, in milliseconds (skipped polls left out).';
COMMENT ON COLUMN feed_health.health IS
    'ok (last poll worked); failing (last poll failed, one worked within 7 days); dead (none '
    'worked for 7 days, or ever); never-polled; disabled (410 Gone or removed: not polled).';
COMMENT ON COLUMN sources.status IS
    'The scheduler''s mode, not a health verdict (that is feed_health.health): active; failing '
    '(many failures in a row: polled rarely); disabled (410 Gone or removed by the user: not polled).';
