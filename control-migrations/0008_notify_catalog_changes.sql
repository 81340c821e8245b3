-- A route cached by a router carries its tier's limits, its database's name and server, and the server's
-- budget. Changes to those rows tell every router to drop all its routes ('*'), as tenant changes tell it
-- to drop one, so a route can be cached for minutes while the change channel is live.
CREATE FUNCTION notify_all_tenants_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tenantplane_tenant_changed', '*');
  RETURN NULL;
END;
$$;

CREATE TRIGGER tiers_notify
AFTER UPDATE OR DELETE ON tiers
FOR EACH STATEMENT EXECUTE FUNCTION notify_all_tenants_changed();

CREATE TRIGGER servers_notify
AFTER UPDATE OR DELETE ON servers
FOR EACH STATEMENT EXECUTE FUNCTION notify_all_tenants_changed();

CREATE TRIGGER databases_notify
AFTER UPDATE OR DELETE ON databases
FOR EACH STATEMENT EXECUTE FUNCTION notify_all_tenants_changed();
