-- Lineage (docs/lineage.md): what gros:// URIs resolve through.
--
-- The bundles of each branch in order, so that a URI's position tag (0 the
-- first, -1 the latest) and day tag are one index lookup, not a walk of the
-- history: the branch's first-parent chain from its head (the parents as
-- des.squash left them), position 0 the oldest. Kept by a trigger on
-- des.dataset_branches: a commit appends one row; any other move (create,
-- reset, a merge whose first parent is not the old head) and des.squash
-- rebuild the branch's rows; a resolution that finds the rows out of step
-- with the head (a restore from a dump) rebuilds them too.
CREATE TABLE des.branch_history (
    repo_id      bigint NOT NULL,
    branch       text NOT NULL,
    position     bigint NOT NULL CHECK (position >= 0),
    bundle_id    bytea NOT NULL,
    committed_at timestamptz NOT NULL,	-- the bundle's time (its header's)
    PRIMARY KEY (repo_id, branch, position),
    CONSTRAINT branch_history_branch FOREIGN KEY (repo_id, branch) REFERENCES des.dataset_branches (repo_id, name)
        ON DELETE CASCADE,
    CONSTRAINT branch_history_bundle FOREIGN KEY (repo_id, bundle_id) REFERENCES des.dataset_bundles (repo_id, id)
        ON DELETE CASCADE
);
CREATE INDEX branch_history_time ON des.branch_history (repo_id, branch, committed_at);
CREATE INDEX branch_history_bundle ON des.branch_history (repo_id, bundle_id);
COMMENT ON TABLE des.branch_history IS 'the bundles of each branch, oldest first (its first-parent chain): what gros:// day and position tags resolve through';

ALTER TABLE des.branch_history ENABLE ROW LEVEL SECURITY;
-- (not dumped: derived from the bundles and branches, rebuilt by the
-- trigger and, when found out of step with a branch's head, on resolution)
