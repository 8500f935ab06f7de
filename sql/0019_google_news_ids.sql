-- 0019: Google News links issued since mid-2024 carry an opaque article id that only Google
-- maps to the publisher URL (pipeline/sources/google_news.py). Each id is looked up once and
-- kept here; an entry whose publisher URL stays unknown is never fetched (Google's page is an
-- interstitial), settles as "unresolved", and is judged on its title, publisher and snippet
-- alone so a relevant headline is still found.

CREATE TABLE google_news_links (
    id           text PRIMARY KEY,
    url          text,
    reason       text,
    attempts     integer NOT NULL DEFAULT 1,
    tried_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    next_try_at  timestamptz,
    CHECK (url IS NOT NULL OR reason IS NOT NULL)
);
COMMENT ON TABLE google_news_links IS
    'Google News article ids looked up at Google, one row per id: a found publisher URL is '
    'kept for good, a failed lookup is tried again after next_try_at.';
COMMENT ON COLUMN google_news_links.id IS
    'The article id of a news.google.com/rss/articles/<id> link (base64, "CBMi...").';
COMMENT ON COLUMN google_news_links.url IS 'The publisher URL Google gave (NULL: not found yet).';
COMMENT ON COLUMN google_news_links.reason IS 'Why the last lookup found no URL, prefixed resolve:.';
COMMENT ON COLUMN google_news_links.attempts IS 'Lookups made for the id.';
COMMENT ON COLUMN google_news_links.tried_at IS 'When the id was last looked up.';
COMMENT ON COLUMN google_news_links.resolved_at IS 'When the URL was found.';
COMMENT ON COLUMN google_news_links.next_try_at IS
    'A failed id is not looked up again before this (1 hour after the first failure, doubling, '
    'at most a day); NULL once resolved.';

CREATE TABLE feed_item_matches (
    source_id   bigint NOT NULL,
    item_key    text NOT NULL,
    watchlist   text NOT NULL,
    publisher   text,
    summary     text NOT NULL DEFAULT '',
    relevant    boolean NOT NULL,
    score       real NOT NULL,
    evidence    jsonb NOT NULL DEFAULT '[]',
    matched_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, item_key, watchlist),
    FOREIGN KEY (source_id, item_key) REFERENCES feed_items (source_id, item_key)
        ON DELETE CASCADE
);
CREATE INDEX feed_item_matches_relevant ON feed_item_matches (watchlist) WHERE relevant;
COMMENT ON TABLE feed_item_matches IS
    'Verdicts on feed entries whose page was never fetched (outcome unresolved), judged on the '
    'entry alone: its title, publisher and summary. Kept when the entry is later resolved and '
    'stored; the article then has its own verdict in matches.';
COMMENT ON COLUMN feed_item_matches.source_id IS 'Source that announced the entry.';
COMMENT ON COLUMN feed_item_matches.item_key IS 'The entry (feed_items.item_key).';
COMMENT ON COLUMN feed_item_matches.watchlist IS 'Watchlist name (e.g. venezuela).';
COMMENT ON COLUMN feed_item_matches.publisher IS 'Publisher the feed named (Google News <source>).';
COMMENT ON COLUMN feed_item_matches.summary IS 'The entry''s summary as matched (its snippet).';
COMMENT ON COLUMN feed_item_matches.relevant IS 'Whether the score reached the watchlist threshold.';
COMMENT ON COLUMN feed_item_matches.score IS 'Relevance score on title and summary alone.';
COMMENT ON COLUMN feed_item_matches.evidence IS
    'Matched entities and rules: [{kind, id, term, field, start, end, snippet, weight}].';
COMMENT ON COLUMN feed_item_matches.matched_at IS 'When the verdict was (last) computed.';

CREATE INDEX feed_items_unresolved ON feed_items (source_id) WHERE outcome = 'unresolved';
COMMENT ON COLUMN feed_items.outcome IS
    'new-relevant, new-irrelevant, duplicate, revised, failed-fetch, failed-extract, '
    'failed-store (the database refused the article), rejected (refused where it '
    'entered, never fetched, e.g. a link over 2,048 characters) or unresolved (the publisher '
    'URL behind an aggregator''s link is unknown: never fetched, judged on the entry alone '
    'in feed_item_matches, looked up again later). '
    'An entry settled with an article keeps its first outcome when it is fetched again.';

CREATE VIEW unresolved_items AS
SELECT f.source_id,
       s.name AS source,
       f.item_key,
       f.title,
       m.publisher,
       m.summary,
       f.url AS link,
       f.error AS reason,
       f.first_seen_at,
       f.attempts,
       m.watchlist,
       m.relevant,
       m.score,
       m.evidence
FROM feed_items f
JOIN sources s ON s.id = f.source_id
LEFT JOIN feed_item_matches m ON m.source_id = f.source_id AND m.item_key = f.item_key
WHERE f.outcome = 'unresolved';
COMMENT ON VIEW unresolved_items IS
    'Entries whose publisher URL is unknown (outcome unresolved), with the verdict on their '
    'title, publisher and summary: relevant headlines no article holds yet. Always current.';
COMMENT ON COLUMN unresolved_items.source_id IS 'Source that announced the entry.';
COMMENT ON COLUMN unresolved_items.source IS 'Its name.';
COMMENT ON COLUMN unresolved_items.item_key IS 'The entry (feed_items.item_key).';
COMMENT ON COLUMN unresolved_items.title IS 'Headline, without the " - Publisher" Google adds.';
COMMENT ON COLUMN unresolved_items.publisher IS 'Publisher the feed named.';
COMMENT ON COLUMN unresolved_items.summary IS 'The entry''s summary (snippet).';
COMMENT ON COLUMN unresolved_items.link IS 'The aggregator''s link (never fetched).';
COMMENT ON COLUMN unresolved_items.reason IS 'Why the publisher URL is unknown, prefixed resolve:.';
COMMENT ON COLUMN unresolved_items.first_seen_at IS 'When newsmon first saw the entry.';
COMMENT ON COLUMN unresolved_items.attempts IS 'Times the entry was recorded: when first seen, and after each lookup that failed again.';
COMMENT ON COLUMN unresolved_items.watchlist IS 'Watchlist of the verdict.';
COMMENT ON COLUMN unresolved_items.relevant IS 'Whether title and summary alone reach the threshold.';
COMMENT ON COLUMN unresolved_items.score IS 'Relevance score on title and summary alone.';
COMMENT ON COLUMN unresolved_items.evidence IS 'Matched entities and rules (as in matches.evidence).';

-- Researchers read all three; the pipeline owns them (migrations run as newsmon_owner).
DO $$
BEGIN
    IF to_regrole('newsmon_reader') IS NOT NULL THEN
        GRANT SELECT ON google_news_links, feed_item_matches, unresolved_items TO newsmon_reader;
    END IF;
END $$;
