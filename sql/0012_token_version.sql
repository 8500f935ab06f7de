-- 0012: every link in an email carries the subscriber's token version. Unsubscribing or a
-- new address bumps it, so every unsubscribe or preferences link sent before stops working
-- (a forwarded email or an old link can no longer resubscribe or retarget anyone).

ALTER TABLE subscribers ADD COLUMN token_version integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN subscribers.token_version IS 'Version signed into unsubscribe and preferences links; bumped on unsubscribe or address change, which kills every link sent before.';

-- A trigger rather than application code: the web pages, the CLI, CSV imports and a
-- hand-typed UPDATE all bump it alike.
CREATE FUNCTION newsmon_bump_token_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.token_version := OLD.token_version + 1;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION newsmon_bump_token_version() IS 'Trigger: bumps subscribers.token_version when a subscriber unsubscribes or changes address.';

CREATE TRIGGER subscribers_token_version
    BEFORE UPDATE OF email, active ON subscribers
    FOR EACH ROW
    WHEN (OLD.email IS DISTINCT FROM NEW.email OR (OLD.active AND NOT NEW.active))
    EXECUTE FUNCTION newsmon_bump_token_version();
