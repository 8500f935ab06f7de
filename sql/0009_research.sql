-- 0009: the researcher's store. Accent-insensitive full-text search in English and Spanish,
-- trigram title search, documented views (the heavy ones materialised, refreshed by
-- maintenance), and the read-only `newsmon_reader` group role.
-- Relies only on 0001 and 0002; later migrations grant their own research tables.

CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Text search configurations: the stock ones with unaccent in front of the stemmer, so
-- "soberania" finds "soberanía" and "Sao Paulo" finds "São Paulo" in either direction.
CREATE TEXT SEARCH CONFIGURATION newsmon_en (COPY = english);
ALTER TEXT SEARCH CONFIGURATION newsmon_en
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
COMMENT ON TEXT SEARCH CONFIGURATION newsmon_en IS 'English stemming, accents removed.';

CREATE TEXT SEARCH CONFIGURATION newsmon_es (COPY = spanish);
ALTER TEXT SEARCH CONFIGURATION newsmon_es
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, spanish_stem;
COMMENT ON TEXT SEARCH CONFIGURATION newsmon_es IS 'Spanish stemming, accents removed.';

CREATE TEXT SEARCH CONFIGURATION newsmon_simple (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION newsmon_simple
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;
COMMENT ON TEXT SEARCH CONFIGURATION newsmon_simple IS
    'Other or unknown languages: lower case, accents removed, no stemming.';

-- SQL-standard bodies are bound when created, so these stay correct whatever the
-- caller's search_path, which is what lets them be IMMUTABLE (generated column, index).
CREATE FUNCTION newsmon_unaccent(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN unaccent('unaccent'::regdictionary, value);
COMMENT ON FUNCTION newsmon_unaccent(text) IS
    'unaccent() that may be used in indexes: newsmon_unaccent(''Perú'') = ''Peru''.';

CREATE FUNCTION newsmon_ts_config(lang text) RETURNS regconfig
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE lower(split_part(coalesce(lang, ''), '-', 1))
               WHEN 'en' THEN 'newsmon_en'::regconfig
               WHEN 'es' THEN 'newsmon_es'::regconfig
               ELSE 'newsmon_simple'::regconfig
           END;
COMMENT ON FUNCTION newsmon_ts_config(text) IS
    'Text search configuration for a language code: newsmon_en, newsmon_es or newsmon_simple.';

CREATE FUNCTION newsmon_query(q text, lang text DEFAULT NULL) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN lang IS NULL
                THEN websearch_to_tsquery('newsmon_en', q)
                     || websearch_to_tsquery('newsmon_es', q)
                     || websearch_to_tsquery('newsmon_simple', q)
                ELSE websearch_to_tsquery(newsmon_ts_config(lang), q)
           END;
COMMENT ON FUNCTION newsmon_query(text, text) IS
    'Web-search syntax ("quoted phrase", or, -not) to a tsquery for articles.search_tsv in one '
    'language, or in all when lang is NULL: WHERE search_tsv @@ newsmon_query(''soberanía'', ''es'').';

CREATE FUNCTION newsmon_outlet(site_name text, url text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce(
        nullif(btrim(site_name), ''),
        lower(substring(url FROM '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/@]*@)?(?:www\.)?([^/:?#]+)')),
        'unknown');
COMMENT ON FUNCTION newsmon_outlet(text, text) IS
    'Outlet of an article: its site name, else the host of its URL without www.';

-- Title counts more than body (weights A and B). Bodies are cut at 200,000 characters:
-- a tsvector may not exceed 1 MB, and an insert must never fail on a huge page.
ALTER TABLE articles ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector(newsmon_ts_config(lang), left(title, 2000)), 'A')
    || setweight(to_tsvector(newsmon_ts_config(lang), left(text, 200000)), 'B')
) STORED;
COMMENT ON COLUMN articles.search_tsv IS
    'Full-text search vector (generated): title (weight A) and the first 200,000 characters of '
    'text (weight B), stemmed in the article''s language, accents removed. Query it with '
    'newsmon_query().';
CREATE INDEX articles_search ON articles USING gin (search_tsv);
CREATE INDEX articles_title_trgm ON articles USING gin (newsmon_unaccent(title) gin_trgm_ops);

CREATE TABLE view_refreshes (
    view_name     text PRIMARY KEY,
    refreshed_at  timestamptz NOT NULL DEFAULT now(),
    duration_ms   integer NOT NULL
);
COMMENT ON TABLE view_refreshes IS
    'When each materialised view was last refreshed: its rows are as of that time.';
COMMENT ON COLUMN view_refreshes.view_name IS 'Materialised view name.';
COMMENT ON COLUMN view_refreshes.refreshed_at IS 'When the last refresh finished.';
COMMENT ON COLUMN view_refreshes.duration_ms IS 'How long the last refresh took, in milliseconds.';

-- Relevant articles: a plain view, always current, cheap when filtered.
CREATE VIEW relevant_articles AS
SELECT a.id AS article_id,
       m.watchlist,
       m.score,
       a.title,
       a.url,
       newsmon_outlet(a.site_name, a.url) AS outlet,
       s.name AS source,
       a.lang,
       a.published_at,
       a.discovered_at,
       a.story_id,
       a.story_id IS NULL OR st.representative_id = a.id AS is_story_representative,
       st.size AS story_size,
       st.first_seen_at AS story_first_seen_at,
       ARRAY(SELECT e.entity_id FROM article_entities e
             WHERE e.article_id = a.id AND e.watchlist = m.watchlist
             ORDER BY e.mentions DESC, e.entity_id) AS entities,
       m.evidence,
       a.text
FROM matches m
JOIN articles a ON a.id = m.article_id
LEFT JOIN sources s ON s.id = a.source_id
LEFT JOIN stories st ON st.id = a.story_id
WHERE m.relevant;
COMMENT ON VIEW relevant_articles IS
    'Articles judged relevant, one row per article and watchlist, with source, outlet, story and '
    'matched entities. Always current.';
COMMENT ON COLUMN relevant_articles.article_id IS 'The article (articles.id).';
COMMENT ON COLUMN relevant_articles.watchlist IS 'Watchlist it is relevant to.';
COMMENT ON COLUMN relevant_articles.score IS 'Relevance score.';
COMMENT ON COLUMN relevant_articles.title IS 'Headline.';
COMMENT ON COLUMN relevant_articles.url IS 'URL the article was fetched from.';
COMMENT ON COLUMN relevant_articles.outlet IS 'Site name, else host (newsmon_outlet()).';
COMMENT ON COLUMN relevant_articles.source IS 'Name of the source whose feed announced it.';
COMMENT ON COLUMN relevant_articles.lang IS 'Language of the text (ISO 639-1).';
COMMENT ON COLUMN relevant_articles.published_at IS 'Best publication time.';
COMMENT ON COLUMN relevant_articles.discovered_at IS 'When newsmon first stored it.';
COMMENT ON COLUMN relevant_articles.story_id IS 'Story it belongs to (copies share it).';
COMMENT ON COLUMN relevant_articles.is_story_representative IS
    'True for the one article that stands for its story: count these to count stories.';
COMMENT ON COLUMN relevant_articles.story_size IS 'Number of articles in the story.';
COMMENT ON COLUMN relevant_articles.story_first_seen_at IS 'When the story''s first copy was stored.';
COMMENT ON COLUMN relevant_articles.entities IS
    'Watchlist entities mentioned, most mentioned first.';
COMMENT ON COLUMN relevant_articles.evidence IS 'Why it matched (matches.evidence).';
COMMENT ON COLUMN relevant_articles.text IS 'Full text.';

-- Daily coverage: materialised, each a scan of all articles. A day is the UTC date of
-- publication (discovery when unknown). Stories are counted once per group; an article
-- with no story counts as a story of its own.
CREATE MATERIALIZED VIEW coverage_by_outlet_daily AS
WITH dated AS (
    SELECT a.id, coalesce(a.story_id, -a.id) AS story,
           newsmon_outlet(a.site_name, a.url) AS outlet,
           (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS day
    FROM articles a
), totals AS (
    SELECT day, outlet, count(*) AS articles FROM dated GROUP BY day, outlet
), relevant AS (
    SELECT m.watchlist, d.day, d.outlet, count(*) AS relevant_articles,
           count(DISTINCT d.story) AS relevant_stories
    FROM dated d JOIN matches m ON m.article_id = d.id AND m.relevant
    GROUP BY m.watchlist, d.day, d.outlet
)
SELECT w.watchlist, t.day, t.outlet, t.articles,
       coalesce(r.relevant_articles, 0) AS relevant_articles,
       coalesce(r.relevant_stories, 0) AS relevant_stories
FROM totals t
CROSS JOIN (SELECT DISTINCT watchlist FROM matches) w
LEFT JOIN relevant r ON r.watchlist = w.watchlist AND r.day = t.day AND r.outlet = t.outlet;
CREATE UNIQUE INDEX coverage_by_outlet_daily_key ON coverage_by_outlet_daily (watchlist, day, outlet);
COMMENT ON MATERIALIZED VIEW coverage_by_outlet_daily IS
    'Per watchlist, day (UTC) and outlet: articles stored and how many were relevant. '
    'Materialised: as of view_refreshes.refreshed_at.';
COMMENT ON COLUMN coverage_by_outlet_daily.watchlist IS 'Watchlist.';
COMMENT ON COLUMN coverage_by_outlet_daily.day IS 'UTC date of publication (discovery when unknown).';
COMMENT ON COLUMN coverage_by_outlet_daily.outlet IS 'Site name, else host (newsmon_outlet()).';
COMMENT ON COLUMN coverage_by_outlet_daily.articles IS
    'Articles stored from the outlet that day, relevant or not (the denominator).';
COMMENT ON COLUMN coverage_by_outlet_daily.relevant_articles IS 'Of those, relevant to the watchlist.';
COMMENT ON COLUMN coverage_by_outlet_daily.relevant_stories IS
    'Distinct stories among the relevant articles.';

CREATE MATERIALIZED VIEW coverage_by_language_daily AS
WITH dated AS (
    SELECT a.id, coalesce(a.story_id, -a.id) AS story, coalesce(a.lang, 'und') AS lang,
           (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS day
    FROM articles a
), totals AS (
    SELECT day, lang, count(*) AS articles FROM dated GROUP BY day, lang
), relevant AS (
    SELECT m.watchlist, d.day, d.lang, count(*) AS relevant_articles,
           count(DISTINCT d.story) AS relevant_stories
    FROM dated d JOIN matches m ON m.article_id = d.id AND m.relevant
    GROUP BY m.watchlist, d.day, d.lang
)
SELECT w.watchlist, t.day, t.lang, t.articles,
       coalesce(r.relevant_articles, 0) AS relevant_articles,
       coalesce(r.relevant_stories, 0) AS relevant_stories
FROM totals t
CROSS JOIN (SELECT DISTINCT watchlist FROM matches) w
LEFT JOIN relevant r ON r.watchlist = w.watchlist AND r.day = t.day AND r.lang = t.lang;
CREATE UNIQUE INDEX coverage_by_language_daily_key ON coverage_by_language_daily (watchlist, day, lang);
COMMENT ON MATERIALIZED VIEW coverage_by_language_daily IS
    'Per watchlist, day (UTC) and language: articles stored and how many were relevant. '
    'Materialised: as of view_refreshes.refreshed_at.';
COMMENT ON COLUMN coverage_by_language_daily.watchlist IS 'Watchlist.';
COMMENT ON COLUMN coverage_by_language_daily.day IS 'UTC date of publication (discovery when unknown).';
COMMENT ON COLUMN coverage_by_language_daily.lang IS 'Language of the text (ISO 639-1; und when unknown).';
COMMENT ON COLUMN coverage_by_language_daily.articles IS
    'Articles stored in that language that day, relevant or not (the denominator).';
COMMENT ON COLUMN coverage_by_language_daily.relevant_articles IS 'Of those, relevant to the watchlist.';
COMMENT ON COLUMN coverage_by_language_daily.relevant_stories IS
    'Distinct stories among the relevant articles.';

CREATE MATERIALIZED VIEW coverage_by_entity_daily AS
SELECT e.watchlist,
       (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS day,
       e.entity_id,
       count(*) AS articles,
       count(*) FILTER (WHERE m.relevant) AS relevant_articles,
       count(DISTINCT coalesce(a.story_id, -a.id)) FILTER (WHERE m.relevant) AS relevant_stories,
       sum(e.mentions) AS mentions,
       count(DISTINCT newsmon_outlet(a.site_name, a.url)) AS outlets
FROM article_entities e
JOIN articles a ON a.id = e.article_id
LEFT JOIN matches m ON m.article_id = e.article_id AND m.watchlist = e.watchlist
GROUP BY e.watchlist, day, e.entity_id;
CREATE UNIQUE INDEX coverage_by_entity_daily_key ON coverage_by_entity_daily (watchlist, day, entity_id);
COMMENT ON MATERIALIZED VIEW coverage_by_entity_daily IS
    'Per watchlist, day (UTC) and entity: articles mentioning it, relevant or not. '
    'Materialised: as of view_refreshes.refreshed_at.';
COMMENT ON COLUMN coverage_by_entity_daily.watchlist IS 'Watchlist that defines the entity.';
COMMENT ON COLUMN coverage_by_entity_daily.day IS 'UTC date of publication (discovery when unknown).';
COMMENT ON COLUMN coverage_by_entity_daily.entity_id IS 'Entity id from the watchlist.';
COMMENT ON COLUMN coverage_by_entity_daily.articles IS
    'Articles mentioning the entity (a passing mention in an irrelevant article counts).';
COMMENT ON COLUMN coverage_by_entity_daily.relevant_articles IS 'Of those, relevant to the watchlist.';
COMMENT ON COLUMN coverage_by_entity_daily.relevant_stories IS
    'Distinct stories among the relevant articles.';
COMMENT ON COLUMN coverage_by_entity_daily.mentions IS 'Total mentions across those articles.';
COMMENT ON COLUMN coverage_by_entity_daily.outlets IS 'Distinct outlets mentioning the entity.';

-- Stories: who carried each story and when. "First" is by the outlet's own publication
-- time (discovery when unknown), ties broken by discovery.
CREATE MATERIALIZED VIEW story_outlets AS
SELECT a.story_id,
       newsmon_outlet(a.site_name, a.url) AS outlet,
       count(*) AS articles,
       min(coalesce(a.published_at, a.discovered_at)) AS first_published_at,
       min(a.discovered_at) AS first_discovered_at,
       array_agg(DISTINCT coalesce(a.lang, 'und') ORDER BY coalesce(a.lang, 'und')) AS languages
FROM articles a
WHERE a.story_id IS NOT NULL
GROUP BY a.story_id, outlet;
CREATE UNIQUE INDEX story_outlets_key ON story_outlets (story_id, outlet);
COMMENT ON MATERIALIZED VIEW story_outlets IS
    'One row per story and outlet with an article of its own in the story, with when the '
    'outlet first had it (verbatim copies folded into another article are only in '
    'story_overview.outlets). '
    'Materialised: as of view_refreshes.refreshed_at.';
COMMENT ON COLUMN story_outlets.story_id IS 'The story.';
COMMENT ON COLUMN story_outlets.outlet IS 'Site name, else host (newsmon_outlet()).';
COMMENT ON COLUMN story_outlets.articles IS 'Articles of the story from this outlet.';
COMMENT ON COLUMN story_outlets.first_published_at IS
    'Earliest publication time of the outlet''s copies (discovery time when unknown).';
COMMENT ON COLUMN story_outlets.first_discovered_at IS 'When newsmon first stored a copy from the outlet.';
COMMENT ON COLUMN story_outlets.languages IS 'Languages of the outlet''s copies.';

CREATE MATERIALIZED VIEW story_overview AS
WITH per_story AS (
    SELECT a.story_id,
           count(*) AS articles,
           array_agg(DISTINCT newsmon_outlet(a.site_name, a.url)) AS article_outlets,
           array_agg(DISTINCT coalesce(a.lang, 'und') ORDER BY coalesce(a.lang, 'und'))
               AS languages,
           (array_agg(newsmon_outlet(a.site_name, a.url)
                      ORDER BY coalesce(a.published_at, a.discovered_at), a.discovered_at, a.id))[1]
               AS first_outlet,
           min(coalesce(a.published_at, a.discovered_at)) AS first_published_at
    FROM articles a
    WHERE a.story_id IS NOT NULL
    GROUP BY a.story_id
)
SELECT st.id AS story_id,
       st.representative_id,
       r.title,
       r.url,
       p.articles,
       cardinality(o.outlets) AS outlet_count,
       o.outlets,
       p.languages,
       p.first_outlet,
       p.first_published_at,
       st.first_seen_at,
       st.last_seen_at,
       ARRAY(SELECT DISTINCT m.watchlist FROM matches m JOIN articles c ON c.id = m.article_id
             WHERE c.story_id = st.id AND m.relevant ORDER BY m.watchlist) AS relevant_to
FROM stories st
JOIN per_story p ON p.story_id = st.id
LEFT JOIN articles r ON r.id = st.representative_id
-- stories.outlets also names outlets whose verbatim copy was folded into another article.
CROSS JOIN LATERAL (
    SELECT array_agg(DISTINCT outlet ORDER BY outlet) AS outlets
    FROM unnest(st.outlets || p.article_outlets) AS outlet
) o;
CREATE UNIQUE INDEX story_overview_key ON story_overview (story_id);
COMMENT ON MATERIALIZED VIEW story_overview IS
    'One row per story: headline, outlets, languages, and who had it first. '
    'Materialised: as of view_refreshes.refreshed_at.';
COMMENT ON COLUMN story_overview.story_id IS 'The story.';
COMMENT ON COLUMN story_overview.representative_id IS 'The article that stands for the story.';
COMMENT ON COLUMN story_overview.title IS 'Headline of the representative article.';
COMMENT ON COLUMN story_overview.url IS 'URL of the representative article.';
COMMENT ON COLUMN story_overview.articles IS 'Articles in the story.';
COMMENT ON COLUMN story_overview.outlet_count IS 'Distinct outlets carrying it.';
COMMENT ON COLUMN story_overview.outlets IS
    'Those outlets, sorted; includes outlets whose verbatim copy was folded into another '
    'outlet''s article (they have no row in story_outlets).';
COMMENT ON COLUMN story_overview.languages IS 'Languages it appeared in.';
COMMENT ON COLUMN story_overview.first_outlet IS
    'Outlet with the earliest publication time (discovery time when unknown).';
COMMENT ON COLUMN story_overview.first_published_at IS 'Earliest publication time of any copy.';
COMMENT ON COLUMN story_overview.first_seen_at IS 'When newsmon first stored a copy.';
COMMENT ON COLUMN story_overview.last_seen_at IS 'When the latest copy joined.';
COMMENT ON COLUMN story_overview.relevant_to IS 'Watchlists any of its articles is relevant to.';

-- Feed health: a plain view over the last polls of each source (fetch_log_source_time).
CREATE VIEW feed_health AS
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
       week.median_ms AS median_poll_ms_7d
FROM sources s
LEFT JOIN LATERAL (
    SELECT f.started_at, f.status FROM fetch_log f
    WHERE f.source_id = s.id ORDER BY f.started_at DESC LIMIT 1
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
    WHERE f.source_id = s.id AND f.started_at > now() - interval '7 days'
) week;
COMMENT ON VIEW feed_health IS
    'One row per source: last poll, last success, current error streak, and the last 7 days '
    '(polls, errors, new items per day, median poll time). Always current.';
COMMENT ON COLUMN feed_health.source_id IS 'The source (sources.id).';
COMMENT ON COLUMN feed_health.name IS 'Source name.';
COMMENT ON COLUMN feed_health.kind IS 'Adapter (rss, google_news, gdelt, ...).';
COMMENT ON COLUMN feed_health.url IS 'URL polled.';
COMMENT ON COLUMN feed_health.enabled IS 'Whether it is still polled.';
COMMENT ON COLUMN feed_health.last_polled_at IS 'When it was last polled (NULL: never).';
COMMENT ON COLUMN feed_health.last_status IS 'Outcome of the last poll: ok, not-modified or error.';
COMMENT ON COLUMN feed_health.last_success_at IS 'Last poll that was ok or not-modified.';
COMMENT ON COLUMN feed_health.error_streak IS 'Errors in a row since the last success (0: healthy).';
COMMENT ON COLUMN feed_health.last_error IS 'Message of the most recent error, however old.';
COMMENT ON COLUMN feed_health.polls_7d IS 'Polls in the last 7 days.';
COMMENT ON COLUMN feed_health.errors_7d IS 'Failed polls in the last 7 days.';
COMMENT ON COLUMN feed_health.new_items_per_day_7d IS 'New entries per day, averaged over the last 7 days.';
COMMENT ON COLUMN feed_health.median_poll_ms_7d IS
    'Median wall time of a poll in the last 7 days, in milliseconds.';

-- The read-only group role. Roles are cluster-wide: another database on the same server
-- may have created it already, or be creating it right now. Its settings are set only
-- when it is created, so an operator's tuning survives later migrations.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'newsmon_reader') THEN
        BEGIN
            CREATE ROLE newsmon_reader NOLOGIN;
            ALTER ROLE newsmon_reader SET statement_timeout = '60s';
            ALTER ROLE newsmon_reader SET idle_in_transaction_session_timeout = '10min';
            ALTER ROLE newsmon_reader SET default_transaction_read_only = on;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created concurrently by another database's migration
        END;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO newsmon_reader;
-- An allow-list, never ALL TABLES: tables added later (alerts, tokens) must opt in.
GRANT SELECT ON sources, runs, run_shards, fetch_log, articles, feed_items, matches,
    article_entities, stories, article_urls, article_versions, schema_migrations, view_refreshes,
    relevant_articles, feed_health, coverage_by_outlet_daily, coverage_by_language_daily,
    coverage_by_entity_daily, story_outlets, story_overview
    TO newsmon_reader;
REVOKE ALL ON subscribers, alerts FROM newsmon_reader;
