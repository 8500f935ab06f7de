-- 0013: least privilege. The pipeline owns its schema through `newsmon_owner`, a NOLOGIN
-- group role, instead of a superuser; `newsmon_web` may only read and change
-- subscriptions; and the advisory locks that keep cycles and migrations apart are the
-- owner's alone, so a researcher cannot take them and stall the pipeline.
--
-- Roles are cluster-wide: another database on the same server may have created these
-- already, or be creating them right now. A migrating user that may not create roles or
-- change system functions (a managed server) gets a NOTICE for each step it cannot do;
-- a superuser can run this migration again by hand (every step is idempotent).
-- From here on, `newsmon db migrate` runs each migration as newsmon_owner
-- (pipeline/db/migrate.py), so what later migrations create belongs to it as well.

DO $$
DECLARE
    group_role text;
    is_super boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
BEGIN
    FOREACH group_role IN ARRAY ARRAY['newsmon_owner', 'newsmon_web'] LOOP
        IF to_regrole(group_role) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', group_role);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN
                    NULL;  -- created concurrently by another database's migration
                WHEN insufficient_privilege THEN
                    RAISE NOTICE 'newsmon: % may not create role %; a superuser must run '
                                 'sql/0013_least_privilege.sql', current_user, group_role;
            END;
        END IF;
    END LOOP;
    IF to_regrole('newsmon_owner') IS NULL THEN
        RETURN;  -- the NOTICE above says why; the schema stays with its current owner
    END IF;
    -- A role with CREATEROLE (not superuser) must be able to act as the owner to hand
    -- objects over to it.
    IF NOT pg_has_role(current_user, 'newsmon_owner', 'MEMBER') THEN
        EXECUTE format('GRANT newsmon_owner TO %I', current_user);
    END IF;
END
$$;

-- Hand every newsmon object to the owner: tables (their indexes and serial sequences
-- follow), views, materialised views, our functions and text search configurations.
-- Extension members (pg_trgm's functions in public) stay with their extension.
DO $$
DECLARE
    item record;
BEGIN
    IF to_regrole('newsmon_owner') IS NULL THEN
        RETURN;
    END IF;
    FOR item IN
        SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
               c.oid::regclass::text AS name
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND c.relowner <> 'newsmon_owner'::regrole
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype IN ('e', 'a', 'i'))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO newsmon_owner', item.kind, item.name);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure::text AS name FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace
          AND p.proowner <> 'newsmon_owner'::regrole
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                            AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO newsmon_owner', item.name);
    END LOOP;
    FOR item IN
        SELECT t.oid::regconfig::text AS name FROM pg_ts_config t
        WHERE t.cfgnamespace = 'public'::regnamespace
          AND t.cfgowner <> 'newsmon_owner'::regrole
    LOOP
        EXECUTE format('ALTER TEXT SEARCH CONFIGURATION %s OWNER TO newsmon_owner', item.name);
    END LOOP;
    -- Later migrations create their tables as the owner.
    GRANT USAGE, CREATE ON SCHEMA public TO newsmon_owner;
END
$$;

-- The subscriber pages (pipeline/web.py): read a subscriber, change their preferences or
-- unsubscribe them (which skips their pending alerts and digests), and record that in
-- the audit. Tables, not column lists, so a column a later migration adds is covered.
DO $$
BEGIN
    IF to_regrole('newsmon_web') IS NULL THEN
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA public TO newsmon_web;
    GRANT SELECT, UPDATE ON subscribers, alerts, digests TO newsmon_web;
    GRANT INSERT ON subscriber_events TO newsmon_web;
    GRANT USAGE ON SEQUENCE subscriber_events_id_seq TO newsmon_web;
END
$$;

-- Only the owner may take advisory locks (cycle, migrations, per-source shard locks) in
-- this database, and it may see and end sessions of other roles (the reader watchdog:
-- pg_stat_activity hides their state from anyone else). Function privileges are per database; changing those of system
-- functions takes a superuser.
DO $$
DECLARE
    lock_function text;
BEGIN
    IF to_regrole('newsmon_owner') IS NULL THEN
        RETURN;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE NOTICE 'newsmon: % is not a superuser: anyone who can log in may still take '
                     'the advisory locks here; a superuser must '
                     'run sql/0013_least_privilege.sql', current_user;
        RETURN;
    END IF;
    FOR lock_function IN
        SELECT p.oid::regprocedure::text FROM pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace
          AND (p.proname LIKE 'pg\_advisory%' OR p.proname LIKE 'pg\_try\_advisory%')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', lock_function);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO newsmon_owner', lock_function);
    END LOOP;
    GRANT pg_signal_backend, pg_read_all_stats TO newsmon_owner;
END
$$;
