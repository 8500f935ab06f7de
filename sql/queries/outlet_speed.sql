-- How fast each outlet is on the stories it carries: how many relevant stories it had,
-- how often it was first, and the median delay behind the first report (by publication
-- times). Uses the materialised story views (see view_refreshes for their age).
-- Run: newsmon sql -f sql/queries/outlet_speed.sql
SELECT so.outlet,
       count(*) AS stories,
       count(*) FILTER (WHERE so.outlet = o.first_outlet) AS first,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM so.first_published_at - o.first_published_at) / 3600
       ) AS median_hours_behind
FROM story_outlets so
JOIN story_overview o ON o.story_id = so.story_id
WHERE 'venezuela' = ANY (o.relevant_to)
GROUP BY so.outlet
ORDER BY first DESC, stories DESC, so.outlet;
