-- 0021: events. A story folds copies of one text; an event joins the stories (different
-- texts, outlets and languages) that report one real-world happening, with the follow-ups
-- that mainly report on it. Assigned online as stories are created (pipeline/store/events.py);
-- immediate alerts and digests key on the event, so one happening is one email.

CREATE TABLE events (
    id                  bigserial PRIMARY KEY,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    story_count         integer NOT NULL DEFAULT 1,
    outlets             text[] NOT NULL DEFAULT '{}',
    languages           text[] NOT NULL DEFAULT '{}',
    first_published_at  timestamptz NOT NULL DEFAULT now(),
    last_published_at   timestamptz NOT NULL DEFAULT now(),
    profile             jsonb NOT NULL DEFAULT '{}',
    keys                text[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE events IS
    'One real-world happening: the stories (different texts, outlets, languages) that report it.';
COMMENT ON COLUMN events.id IS 'Surrogate key; stories.event_id and alerts refer to it.';
COMMENT ON COLUMN events.first_seen_at IS 'When newsmon first stored an article of the event.';
COMMENT ON COLUMN events.last_seen_at IS 'When the latest story joined or grew.';
COMMENT ON COLUMN events.story_count IS 'How many stories belong to the event.';
COMMENT ON COLUMN events.outlets IS
    'Distinct outlets (as stories.outlets names them) carrying any story of the event.';
COMMENT ON COLUMN events.languages IS 'Distinct languages of the event''s articles.';
COMMENT ON COLUMN events.first_published_at IS
    'Publication time (discovery when unknown) of the first article of its earliest story: '
    'with last_published_at, the span a new story must be near (4 days) to join.';
COMMENT ON COLUMN events.last_published_at IS
    'Publication time (discovery when unknown) of the first article of its latest story.';
COMMENT ON COLUMN events.profile IS
    'What its stories say, per feature kind (entities, places, numbers, dates, terms, kinds, '
    'names, tokens): {kind: {value: stories with it}}, the 40 commonest values per kind. '
    'A new story is scored against it (pipeline/dedup/events.py).';
COMMENT ON COLUMN events.keys IS
    'The profile''s distinctive values as lookup keys (p: place, n: number, d: date, w: name, '
    'e: entity, t: word): a new story is compared only with events sharing one.';

CREATE INDEX events_keys ON events USING gin (keys);
CREATE INDEX events_last_published ON events (last_published_at);

ALTER TABLE stories ADD COLUMN event_id bigint REFERENCES events(id) ON DELETE SET NULL;
CREATE INDEX stories_event ON stories (event_id);
COMMENT ON COLUMN stories.event_id IS
    'The event the story reports (NULL: not assigned, e.g. stored before migration 0021).';
ALTER TABLE stories ADD COLUMN event_reason jsonb;
COMMENT ON COLUMN stories.event_reason IS
    'Why the story is in its event: {"joined": true, "score", and what it shares with the event: '
    '"entities", "places", "numbers", "dates", "terms", "kinds", "names", "words" (share of its '
    'title and lead words), "against" (penalties: other dates, places, kind, numbers, days '
    'apart)}; or {"new": true, "best_rejected_score"} for the story that started it.';

-- Researchers: an event's timeline. "First" is by the outlet's own publication time
-- (discovery when unknown), ties broken by discovery, as in story_overview.
CREATE VIEW event_stories AS
SELECT st.event_id,
       st.id AS story_id,
       r.title,
       r.url,
       newsmon_outlet(r.site_name, r.url) AS outlet,
       r.lang,
       coalesce(r.published_at, r.discovered_at) AS published_at,
       st.size AS articles,
       st.outlets,
       st.event_reason
FROM stories st
LEFT JOIN articles r ON r.id = st.representative_id
WHERE st.event_id IS NOT NULL;
COMMENT ON VIEW event_stories IS
    'One row per story of an event: its first article, outlets, and why it joined the event. '
    'Always current.';
COMMENT ON COLUMN event_stories.event_id IS 'The event (events.id).';
COMMENT ON COLUMN event_stories.story_id IS 'The story (stories.id).';
COMMENT ON COLUMN event_stories.title IS 'Headline of the story''s representative article.';
COMMENT ON COLUMN event_stories.url IS 'URL of that article.';
COMMENT ON COLUMN event_stories.outlet IS 'Its outlet (newsmon_outlet()).';
COMMENT ON COLUMN event_stories.lang IS 'Its language.';
COMMENT ON COLUMN event_stories.published_at IS 'Its publication time (discovery when unknown).';
COMMENT ON COLUMN event_stories.articles IS 'Articles in the story.';
COMMENT ON COLUMN event_stories.outlets IS 'Outlets carrying the story (stories.outlets).';
COMMENT ON COLUMN event_stories.event_reason IS 'Why it joined the event (stories.event_reason).';

CREATE VIEW event_timeline AS
WITH per_event AS (
    SELECT st.event_id,
           count(*) AS articles,
           (array_agg(newsmon_outlet(a.site_name, a.url)
                      ORDER BY coalesce(a.published_at, a.discovered_at), a.discovered_at, a.id))[1]
               AS first_outlet,
           (array_agg(a.title
                      ORDER BY coalesce(a.published_at, a.discovered_at), a.discovered_at, a.id))[1]
               AS first_title,
           min(coalesce(a.published_at, a.discovered_at)) AS first_published_at,
           min(coalesce(a.published_at, a.discovered_at)) FILTER (WHERE a.lang = 'en')
               AS first_en_at,
           min(coalesce(a.published_at, a.discovered_at)) FILTER (WHERE a.lang = 'es')
               AS first_es_at
    FROM stories st
    JOIN articles a ON a.story_id = st.id
    WHERE st.event_id IS NOT NULL
    GROUP BY st.event_id
)
SELECT e.id AS event_id,
       p.first_title AS title,
       p.first_outlet,
       p.first_published_at,
       e.first_seen_at,
       e.last_seen_at,
       e.story_count,
       p.articles,
       cardinality(e.outlets) AS outlet_count,
       e.outlets,
       e.languages,
       p.first_en_at,
       p.first_es_at,
       p.first_es_at - p.first_en_at AS es_lag
FROM events e
JOIN per_event p ON p.event_id = e.id;
COMMENT ON VIEW event_timeline IS
    'One row per event: who reported it first and when, how many stories, articles, outlets '
    'and languages, and the lag between the first English and the first Spanish article. '
    'Always current; filter by event_id or first_published_at.';
COMMENT ON COLUMN event_timeline.event_id IS 'The event (events.id).';
COMMENT ON COLUMN event_timeline.title IS 'Headline of its first article.';
COMMENT ON COLUMN event_timeline.first_outlet IS 'Outlet of its first article.';
COMMENT ON COLUMN event_timeline.first_published_at IS
    'Publication time (discovery when unknown) of its first article.';
COMMENT ON COLUMN event_timeline.first_seen_at IS 'When newsmon first stored an article of it.';
COMMENT ON COLUMN event_timeline.last_seen_at IS 'When the latest story joined or grew.';
COMMENT ON COLUMN event_timeline.story_count IS 'Stories in the event.';
COMMENT ON COLUMN event_timeline.articles IS 'Articles in those stories.';
COMMENT ON COLUMN event_timeline.outlet_count IS 'Distinct outlets carrying it.';
COMMENT ON COLUMN event_timeline.outlets IS 'Those outlets (events.outlets).';
COMMENT ON COLUMN event_timeline.languages IS 'Languages of its articles (events.languages).';
COMMENT ON COLUMN event_timeline.first_en_at IS 'Publication time of its first English article.';
COMMENT ON COLUMN event_timeline.first_es_at IS 'Publication time of its first Spanish article.';
COMMENT ON COLUMN event_timeline.es_lag IS
    'first_es_at - first_en_at: how much later Spanish coverage began (negative: Spanish first; '
    'NULL: one of the two is missing).';

GRANT SELECT ON events, event_stories, event_timeline TO newsmon_reader;
