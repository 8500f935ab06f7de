-- Mentions of Nicolás Maduro over time, per week (UTC), in relevant articles only: the
-- matcher's disambiguation keeps "maduro" (ripe) out, and an irrelevant article (an
-- avocado recipe) never counts here.
-- Run: newsmon sql -f sql/queries/maduro_mentions_weekly.sql
SELECT date_trunc('week', coalesce(r.published_at, r.discovered_at) AT TIME ZONE 'UTC')::date
           AS week,
       count(*) AS articles,
       count(DISTINCT coalesce(r.story_id, -r.article_id)) AS stories,
       sum(e.mentions) AS mentions
FROM relevant_articles r
JOIN article_entities e ON e.article_id = r.article_id AND e.watchlist = r.watchlist
WHERE r.watchlist = 'venezuela' AND e.entity_id = 'nicolas_maduro'
GROUP BY week
ORDER BY week;
