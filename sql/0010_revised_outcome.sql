-- 0010: entries can now settle as "revised": a feed announced a stored page as updated,
-- and the page fetched again had changed (the earlier text is in article_versions).

COMMENT ON COLUMN feed_items.outcome IS
    'new-relevant, new-irrelevant, duplicate, revised, failed-fetch or failed-extract. '
    'An entry settled with an article keeps its first outcome when it is fetched again.';
