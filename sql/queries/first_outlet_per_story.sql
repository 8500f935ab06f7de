-- The first outlet to report each relevant story, how many outlets followed, and how long
-- the last of them took. "First" is by the outlets' own publication times (discovery time
-- when a page gives none). Uses the materialised story views: as fresh as their last
-- refresh (see view_refreshes).
-- Run: newsmon sql -f sql/queries/first_outlet_per_story.sql
SELECT o.story_id,
       o.title,
       o.first_outlet,
       o.first_published_at,
       o.outlet_count - 1 AS followers,
       max(so.first_published_at) - o.first_published_at AS spread
FROM story_overview o
JOIN story_outlets so ON so.story_id = o.story_id
WHERE 'venezuela' = ANY (o.relevant_to)
GROUP BY o.story_id, o.title, o.first_outlet, o.first_published_at, o.outlet_count
ORDER BY o.first_published_at, o.story_id;
