-- The subscriber pages (newsmon_web) and researchers (newsmon_reader) never migrate, so they
-- check that the schema is as new as their code instead: `newsmon serve` refuses a store that
-- is behind with "run `newsmon db migrate`", not an error from a missing column later.
-- (The groups exist where 0013 could create them.)
DO $$
DECLARE
    grp text;
BEGIN
    FOREACH grp IN ARRAY ARRAY['newsmon_web', 'newsmon_reader'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = grp) THEN
            EXECUTE format('GRANT SELECT ON schema_migrations TO %I', grp);
        END IF;
    END LOOP;
END $$;
