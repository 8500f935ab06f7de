-- 0014: a digest lists what no earlier digest listed, not what was stored in a time window
-- (an article committed just after a digest can carry a time before it); the comments say so.

COMMENT ON COLUMN digests.period_start IS 'The previous digest''s period_end (the first digest: a day before its hour). Stories published before it are marked catch-up.';
COMMENT ON COLUMN digests.period_end IS 'When the digest was built. It lists every relevant story stored before this time that no earlier digest of the subscriber listed, stored at most 7 days before and not before the subscriber''s first digest.';
COMMENT ON COLUMN digest_items.article_id IS 'Article shown for the story (its first stored copy).';
COMMENT ON COLUMN digest_items.catch_up IS 'Published (undated: stored) before the digest''s period_start: older news found late (new source, backfill, or committed just after the previous digest).';
