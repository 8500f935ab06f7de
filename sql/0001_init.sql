-- 0001: the foundation schema. Later migrations add to it; never edit a landed migration.

CREATE TABLE sources (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    url             text NOT NULL,
    kind            text NOT NULL DEFAULT 'rss',
    language        text,
    tags            text[] NOT NULL DEFAULT '{}',
    params          jsonb NOT NULL DEFAULT '{}',
    enabled         boolean NOT NULL DEFAULT true,
    etag            text,
    last_modified   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sources IS 'One row per feed or news-API query that newsmon polls.';
COMMENT ON COLUMN sources.id IS 'Surrogate key.';
COMMENT ON COLUMN sources.name IS 'Unique human name from the sources file; the natural key.';
COMMENT ON COLUMN sources.url IS 'Feed or API URL polled (updated after a permanent redirect).';
COMMENT ON COLUMN sources.kind IS 'Adapter that reads it: rss (RSS/Atom/RDF/JSON Feed), google_news, gdelt, sitemap, newsapi.';
COMMENT ON COLUMN sources.language IS 'Expected language of the source (ISO 639-1), if declared.';
COMMENT ON COLUMN sources.tags IS 'Free tags from the sources file (region, outlet type, ...).';
COMMENT ON COLUMN sources.params IS 'Adapter parameters (query, language, region, ...).';
COMMENT ON COLUMN sources.enabled IS 'False when removed from the sources file or disabled (410 Gone); not polled.';
COMMENT ON COLUMN sources.etag IS 'ETag of the last 200 response, sent back as If-None-Match.';
COMMENT ON COLUMN sources.last_modified IS 'Last-Modified of the last 200 response, sent back as If-Modified-Since.';
COMMENT ON COLUMN sources.created_at IS 'When the source was first registered.';
COMMENT ON COLUMN sources.updated_at IS 'When the source row last changed.';

CREATE TABLE runs (
    id           bigserial PRIMARY KEY,
    external_id  text UNIQUE,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    summary      jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE runs IS 'One row per ingestion cycle, with its outcome counts.';
COMMENT ON COLUMN runs.id IS 'Surrogate key.';
COMMENT ON COLUMN runs.external_id IS 'Scheduler run id (Airflow dag run), so a retried task reuses its cycle row.';
COMMENT ON COLUMN runs.started_at IS 'When the cycle started.';
COMMENT ON COLUMN runs.finished_at IS 'When the cycle ended (NULL while running or if it crashed).';
COMMENT ON COLUMN runs.status IS 'running, completed or failed.';
COMMENT ON COLUMN runs.summary IS 'Counts per outcome (sources polled/failed, items seen, new, relevant, duplicates, errors).';

CREATE TABLE run_shards (
    run_id       bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    shard        text NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now(),
    summary      jsonb NOT NULL,
    PRIMARY KEY (run_id, shard)
);
COMMENT ON TABLE run_shards IS 'Outcome counts of each shard of a cycle (a retried shard overwrites its own row).';
COMMENT ON COLUMN run_shards.run_id IS 'The cycle.';
COMMENT ON COLUMN run_shards.shard IS 'Shard name (the hosts it covered, or "all").';
COMMENT ON COLUMN run_shards.finished_at IS 'When the shard finished.';
COMMENT ON COLUMN run_shards.summary IS 'Counts per outcome for the shard.';

CREATE TABLE fetch_log (
    id             bigserial PRIMARY KEY,
    source_id      bigint NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    run_id         bigint REFERENCES runs(id) ON DELETE SET NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    duration_ms    integer,
    status         text NOT NULL CHECK (status IN ('ok', 'not-modified', 'error')),
    http_status    integer,
    bytes          integer,
    items_seen     integer NOT NULL DEFAULT 0,
    items_new      integer NOT NULL DEFAULT 0,
    error_class    text,
    error_message  text
);
CREATE INDEX fetch_log_source_time ON fetch_log (source_id, started_at DESC);
COMMENT ON TABLE fetch_log IS 'One row per poll of a source: when, how it went, how many items.';
COMMENT ON COLUMN fetch_log.id IS 'Surrogate key.';
COMMENT ON COLUMN fetch_log.source_id IS 'The source polled.';
COMMENT ON COLUMN fetch_log.run_id IS 'The cycle that polled it.';
COMMENT ON COLUMN fetch_log.started_at IS 'When the poll started.';
COMMENT ON COLUMN fetch_log.duration_ms IS 'Wall time of the poll (request and parse) in milliseconds.';
COMMENT ON COLUMN fetch_log.status IS 'ok, not-modified (304) or error.';
COMMENT ON COLUMN fetch_log.http_status IS 'Final HTTP status, if a response came.';
COMMENT ON COLUMN fetch_log.bytes IS 'Body size in bytes after decompression.';
COMMENT ON COLUMN fetch_log.items_seen IS 'Entries in the feed or API response.';
COMMENT ON COLUMN fetch_log.items_new IS 'Entries not seen before (articles then fetched).';
COMMENT ON COLUMN fetch_log.error_class IS 'Error kind (timeout, http-status, parse, ...) when status = error.';
COMMENT ON COLUMN fetch_log.error_message IS 'Readable error, prefixed with the stage that raised it.';

CREATE TABLE articles (
    id              bigserial PRIMARY KEY,
    url             text NOT NULL,
    canonical_url   text NOT NULL UNIQUE,
    source_id       bigint REFERENCES sources(id) ON DELETE SET NULL,
    title           text NOT NULL DEFAULT '',
    text            text NOT NULL DEFAULT '',
    author          text,
    published_at    timestamptz,
    discovered_at   timestamptz NOT NULL DEFAULT now(),
    lang            text,
    site_name       text,
    content_hash    text NOT NULL
);
CREATE INDEX articles_content_hash ON articles (content_hash);
CREATE INDEX articles_published_at ON articles (published_at);
CREATE INDEX articles_discovered_at ON articles (discovered_at);
COMMENT ON TABLE articles IS 'One row per distinct article page, relevant or not, with its full text.';
COMMENT ON COLUMN articles.id IS 'Surrogate key.';
COMMENT ON COLUMN articles.url IS 'URL the article was first fetched from (after redirects).';
COMMENT ON COLUMN articles.canonical_url IS 'Normalised URL (tracking parameters, AMP/mobile variants removed); unique.';
COMMENT ON COLUMN articles.source_id IS 'Source whose feed first announced the article.';
COMMENT ON COLUMN articles.title IS 'Headline as extracted from the page (feed title as fallback).';
COMMENT ON COLUMN articles.text IS 'Main text extracted by trafilatura.';
COMMENT ON COLUMN articles.author IS 'Byline, if found.';
COMMENT ON COLUMN articles.published_at IS 'Best publication time (page, then feed, then first seen).';
COMMENT ON COLUMN articles.discovered_at IS 'When newsmon first stored the article.';
COMMENT ON COLUMN articles.lang IS 'Language of the text (ISO 639-1).';
COMMENT ON COLUMN articles.site_name IS 'Outlet name from the page metadata.';
COMMENT ON COLUMN articles.content_hash IS 'Fingerprint of the normalised text; equal hashes are exact duplicates.';

CREATE TABLE feed_items (
    source_id      bigint NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    item_key       text NOT NULL,
    url            text NOT NULL,
    title          text NOT NULL DEFAULT '',
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    outcome        text NOT NULL,
    article_id     bigint REFERENCES articles(id) ON DELETE SET NULL,
    error          text,
    attempts       integer NOT NULL DEFAULT 1,
    PRIMARY KEY (source_id, item_key)
);
CREATE INDEX feed_items_url ON feed_items (url);
COMMENT ON TABLE feed_items IS 'Every entry a source announced, with the one outcome it got; the "already seen?" check.';
COMMENT ON COLUMN feed_items.source_id IS 'Source that announced the entry.';
COMMENT ON COLUMN feed_items.item_key IS 'Entry id/guid, or the canonical link when the feed gives none.';
COMMENT ON COLUMN feed_items.url IS 'Canonical link of the entry.';
COMMENT ON COLUMN feed_items.title IS 'Entry title as the feed gave it.';
COMMENT ON COLUMN feed_items.first_seen_at IS 'When newsmon first saw the entry.';
COMMENT ON COLUMN feed_items.outcome IS 'new-relevant, new-irrelevant, duplicate, failed-fetch or failed-extract.';
COMMENT ON COLUMN feed_items.article_id IS 'Article the entry resolved to (NULL when it failed).';
COMMENT ON COLUMN feed_items.error IS 'Why the entry failed, prefixed with the stage.';
COMMENT ON COLUMN feed_items.attempts IS 'How many cycles tried the entry; failed entries are retried a few times.';

CREATE TABLE matches (
    article_id  bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    watchlist   text NOT NULL,
    relevant    boolean NOT NULL,
    score       real NOT NULL,
    evidence    jsonb NOT NULL DEFAULT '[]',
    matched_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, watchlist)
);
CREATE INDEX matches_relevant ON matches (watchlist, relevant) WHERE relevant;
COMMENT ON TABLE matches IS 'One verdict per article and watchlist: relevant or not, and why.';
COMMENT ON COLUMN matches.article_id IS 'The article judged.';
COMMENT ON COLUMN matches.watchlist IS 'Watchlist name (e.g. venezuela).';
COMMENT ON COLUMN matches.relevant IS 'Whether the score reached the watchlist threshold.';
COMMENT ON COLUMN matches.score IS 'Relevance score.';
COMMENT ON COLUMN matches.evidence IS 'Matched entities and rules: [{kind, id, term, field, start, end, snippet, weight}].';
COMMENT ON COLUMN matches.matched_at IS 'When the verdict was (last) computed.';

CREATE TABLE article_entities (
    article_id    bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    watchlist     text NOT NULL,
    entity_id     text NOT NULL,
    mentions      integer NOT NULL,
    first_offset  integer NOT NULL,
    PRIMARY KEY (article_id, watchlist, entity_id)
);
CREATE INDEX article_entities_entity ON article_entities (entity_id);
COMMENT ON TABLE article_entities IS 'Watchlist entities mentioned in each article, for coverage counts by entity.';
COMMENT ON COLUMN article_entities.article_id IS 'The article.';
COMMENT ON COLUMN article_entities.watchlist IS 'Watchlist that defines the entity.';
COMMENT ON COLUMN article_entities.entity_id IS 'Entity id from the watchlist (e.g. tren_de_aragua).';
COMMENT ON COLUMN article_entities.mentions IS 'How many times the entity is mentioned (title and text).';
COMMENT ON COLUMN article_entities.first_offset IS 'Character offset of the first mention in the text (-1 if only in the title).';

CREATE TABLE subscribers (
    id           bigserial PRIMARY KEY,
    email        text NOT NULL,
    name         text,
    watchlists   text[] NOT NULL DEFAULT '{venezuela}',
    mode         text NOT NULL DEFAULT 'immediate' CHECK (mode IN ('immediate', 'daily')),
    digest_hour  smallint NOT NULL DEFAULT 7 CHECK (digest_hour BETWEEN 0 AND 23),
    timezone     text NOT NULL DEFAULT 'UTC',
    min_score    real NOT NULL DEFAULT 0,
    languages    text[] NOT NULL DEFAULT '{}',
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX subscribers_email ON subscribers (lower(email));
COMMENT ON TABLE subscribers IS 'People who receive alert emails. Personal data: not readable by researchers.';
COMMENT ON COLUMN subscribers.id IS 'Surrogate key.';
COMMENT ON COLUMN subscribers.email IS 'Address; unique ignoring case.';
COMMENT ON COLUMN subscribers.name IS 'Display name.';
COMMENT ON COLUMN subscribers.watchlists IS 'Watchlists the subscriber follows.';
COMMENT ON COLUMN subscribers.mode IS 'immediate (one email per story) or daily (one digest a day).';
COMMENT ON COLUMN subscribers.digest_hour IS 'Local hour (0-23) at which the daily digest is sent.';
COMMENT ON COLUMN subscribers.timezone IS 'IANA time zone for the digest hour.';
COMMENT ON COLUMN subscribers.min_score IS 'Only matches scoring at least this are sent.';
COMMENT ON COLUMN subscribers.languages IS 'Languages wanted (empty: all).';
COMMENT ON COLUMN subscribers.active IS 'False after unsubscribing; nothing is sent.';
COMMENT ON COLUMN subscribers.created_at IS 'When the subscriber joined; older articles never trigger immediate alerts.';

CREATE TABLE alerts (
    id             bigserial PRIMARY KEY,
    subscriber_id  bigint NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    article_id     bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    watchlist      text NOT NULL,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    sent_at        timestamptz,
    attempts       integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    message_id     text,
    last_error     text,
    UNIQUE (subscriber_id, article_id)
);
CREATE INDEX alerts_pending ON alerts (next_attempt_at) WHERE status = 'pending';
COMMENT ON TABLE alerts IS 'The email outbox: one row per subscriber and article, so nothing is sent twice.';
COMMENT ON COLUMN alerts.id IS 'Surrogate key.';
COMMENT ON COLUMN alerts.subscriber_id IS 'Recipient.';
COMMENT ON COLUMN alerts.article_id IS 'Article (the story representative) the alert is about.';
COMMENT ON COLUMN alerts.watchlist IS 'Watchlist whose match triggered it.';
COMMENT ON COLUMN alerts.status IS 'pending, sending, sent, failed (gave up) or skipped.';
COMMENT ON COLUMN alerts.created_at IS 'When the alert was queued (same transaction as the match).';
COMMENT ON COLUMN alerts.sent_at IS 'When the SMTP server accepted it.';
COMMENT ON COLUMN alerts.attempts IS 'Delivery attempts so far.';
COMMENT ON COLUMN alerts.next_attempt_at IS 'Not before this time (retry backoff).';
COMMENT ON COLUMN alerts.message_id IS 'Message-ID header of the sent email.';
COMMENT ON COLUMN alerts.last_error IS 'SMTP error of the last failed attempt.';
