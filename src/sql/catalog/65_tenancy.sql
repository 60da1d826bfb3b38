-- Tenancy of versioned datasets (docs/datasets.md): contexts (tenants), the
-- repos they hold, who may do what, and a log of every change. Row-level
-- security on every table: a role sees only the contexts and repos it was
-- granted; superusers and the extension's owner see everything.

CREATE TYPE des.access_level AS ENUM ('read', 'write', 'admin');

CREATE TABLE des.contexts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE
                CONSTRAINT contexts_name_valid CHECK (name ~ '^[A-Za-z0-9._-]{1,100}$' AND name !~ '^\.+$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  name NOT NULL DEFAULT current_user		-- names, not role oids: they outlive the roles
);
COMMENT ON TABLE des.contexts IS 'tenants: every repo belongs to one (des.context_create)';

CREATE TABLE des.repositories (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE
                    CONSTRAINT repositories_name_valid CHECK (name ~ '^[A-Za-z0-9._-]{1,100}$' AND name !~ '^\.+$'),
    context_id      bigint NOT NULL REFERENCES des.contexts (id),
    description     text NOT NULL DEFAULT '',
    owner           regrole NOT NULL DEFAULT current_user::regrole,
    default_branch  text NOT NULL DEFAULT 'main',
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT repositories_id_context UNIQUE (id, context_id)	-- the target of a grant's (repo, context)
);
CREATE INDEX repositories_context ON des.repositories (context_id);
COMMENT ON TABLE des.repositories IS 'versioned datasets (des.repo_create); read them through the view des.repos';

-- One row per grant: on a whole context (repo_id NULL) or on one repo.
CREATE TABLE des.access_grants (
    context_id  bigint NOT NULL REFERENCES des.contexts (id) ON DELETE CASCADE,
    repo_id     bigint,
    grantee     regrole NOT NULL,
    level       des.access_level NOT NULL,
    granted_by  name NOT NULL DEFAULT current_user,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    -- a grant on a repo is in that repo's context, never another tenant's
    CONSTRAINT access_grants_repo FOREIGN KEY (repo_id, context_id)
        REFERENCES des.repositories (id, context_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX access_grants_one ON des.access_grants (context_id, coalesce(repo_id, 0), grantee);
CREATE INDEX access_grants_grantee ON des.access_grants (grantee);
COMMENT ON TABLE des.access_grants IS 'who may read, write or administer a context (repo_id NULL) or a repo (des.grant, des.revoke)';

CREATE TABLE des.write_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    role        name NOT NULL DEFAULT current_user,		-- as it was called then
    action      text NOT NULL,
    context_id  bigint NOT NULL,
    repo_id     bigint,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX write_log_repo ON des.write_log (repo_id, at);
CREATE INDEX write_log_context ON des.write_log (context_id, at);
COMMENT ON TABLE des.write_log IS 'every change of a context, repo or grant: who, when, what (written by the functions that make it)';

-- The context repos go to when none is named. Administrators decide who may
-- create repos in it (des.grant('context:default', role, 'write')).
INSERT INTO des.contexts (name, created_by) VALUES ('default', current_user);

-- pg_dump dumps these tables' rows (the default context comes with CREATE EXTENSION)
SELECT pg_catalog.pg_extension_config_dump('des.contexts', 'WHERE name <> ''default''');
SELECT pg_catalog.pg_extension_config_dump('des.repositories', '');
SELECT pg_catalog.pg_extension_config_dump('des.access_grants', '');
SELECT pg_catalog.pg_extension_config_dump('des.write_log', '');
-- and their identity sequences, or restored tables would reuse ids
-- (one statement each: pg_extension_config_dump updates one catalog row)
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('des.contexts', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('des.repositories', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('des.write_log', 'id')::regclass, '');

ALTER TABLE des.contexts ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.repositories ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.access_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.write_log ENABLE ROW LEVEL SECURITY;
