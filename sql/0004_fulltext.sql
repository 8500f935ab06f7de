-- Full text you can trust: the dates behind published_at, how complete the extraction is,
-- page metadata, and the raw response of every stored article so it can be re-extracted.
-- Written by pipeline/fulltext.py. No GRANT here: the reader role is created by 0009, which
-- grants SELECT on articles (all columns); article_raw stays private (raw bytes, headers).

ALTER TABLE articles
    ADD COLUMN feed_published_at timestamptz,
    ADD COLUMN page_published_at timestamptz,
    ADD COLUMN date_source text CHECK (date_source IN ('page', 'feed', 'first-seen')),
    ADD COLUMN date_flags text[] NOT NULL DEFAULT '{}',
    ADD COLUMN fulltext_status text
        CHECK (fulltext_status IN ('full', 'teaser', 'paywalled', 'failed')),
    ADD COLUMN matched_on text CHECK (matched_on IN ('text', 'summary')),
    ADD COLUMN feed_summary text,
    ADD COLUMN description text,
    ADD COLUMN image_url text,
    ADD COLUMN categories text[] NOT NULL DEFAULT '{}',
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
-- The per-source baseline (median length of a source's full extractions) reads these.
CREATE INDEX articles_source_fulltext ON articles (source_id, fulltext_status);

COMMENT ON COLUMN articles.feed_published_at IS
    'Publication time the feed entry stated (NULL: none, or unusable; see date_flags).';
COMMENT ON COLUMN articles.page_published_at IS
    'Publication time the page itself states (trafilatura/htmldate; NULL: none found).';
COMMENT ON COLUMN articles.date_source IS
    'Where published_at came from: page, feed or first-seen (discovered_at).';
COMMENT ON COLUMN articles.date_flags IS
    'Dates rejected or doubtful: page-date-future, feed-date-too-old, dates-disagree, ...';
COMMENT ON COLUMN articles.fulltext_status IS
    'How complete the extracted text is: full, teaser, paywalled or failed (NULL: stored before this was judged).';
COMMENT ON COLUMN articles.matched_on IS
    'What the watchlist verdict was computed on: text, or the feed summary when the page gave only a teaser.';
COMMENT ON COLUMN articles.feed_summary IS
    'The feed entry''s summary as plain text: the teaser check and re-extraction compare with it.';
COMMENT ON COLUMN articles.description IS 'Description from the page metadata (og:description, meta description).';
COMMENT ON COLUMN articles.image_url IS 'Lead image URL from the page metadata (og:image).';
COMMENT ON COLUMN articles.categories IS 'Categories (sections) the page metadata names.';
COMMENT ON COLUMN articles.tags IS 'Tags / keywords the page metadata names.';

CREATE TABLE article_raw (
    article_id    bigint PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    fetched_at    timestamptz NOT NULL DEFAULT now(),
    url           text NOT NULL,
    status        integer NOT NULL,
    content_type  text,
    headers       jsonb NOT NULL DEFAULT '{}',
    body          bytea NOT NULL,
    size          integer NOT NULL
);
CREATE INDEX article_raw_fetched_at ON article_raw (fetched_at);
COMMENT ON TABLE article_raw IS
    'Raw HTTP response of each stored article, kept NEWSMON_RAW_RETENTION_DAYS days so '
    '`newsmon reextract` can re-run extraction and matching when they improve.';
COMMENT ON COLUMN article_raw.article_id IS 'The article (articles.id) the response was stored as.';
COMMENT ON COLUMN article_raw.fetched_at IS 'When the response was received.';
COMMENT ON COLUMN article_raw.url IS 'Final URL after redirects.';
COMMENT ON COLUMN article_raw.status IS 'HTTP status code.';
COMMENT ON COLUMN article_raw.content_type IS 'Content-Type header (charset included), used again to decode.';
COMMENT ON COLUMN article_raw.headers IS 'Response headers, lower-cased names.';
COMMENT ON COLUMN article_raw.body IS 'Response body, zlib-compressed.';
COMMENT ON COLUMN article_raw.size IS 'Body size before compression, in bytes.';
