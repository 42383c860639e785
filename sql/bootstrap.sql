-- The extension's own schema. The extension itself lives in pg_catalog (as pg_cron does), so
-- that this schema is one of its members: CREATE EXTENSION fails if a schema of this name
-- already exists (another role could own it and plant objects in it), and DROP EXTENSION
-- removes it with everything the extension created.
CREATE SCHEMA synapse_compress;
COMMENT ON SCHEMA synapse_compress IS 'synapse_compress: compresses Synapse''s state tables inside PostgreSQL';
