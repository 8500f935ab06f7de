-- 0011: an entry can now settle as "failed-store" (the database refused its article: the
-- cycle goes on without it) or "rejected" (refused where it entered, e.g. a link over
-- 2,048 characters, and never fetched); a failed run keeps why it failed.

ALTER TABLE runs ADD COLUMN error text;
COMMENT ON COLUMN runs.error IS 'Why the run failed (status failed), as the cycle saw it.';

COMMENT ON COLUMN feed_items.outcome IS
    'new-relevant, new-irrelevant, duplicate, revised, failed-fetch, failed-extract, '
    'failed-store (the database refused the article) or rejected (refused where it '
    'entered, never fetched, e.g. a link over 2,048 characters). '
    'An entry settled with an article keeps its first outcome when it is fetched again.';
