"""Append-only schema migrations; the applied version lives in PRAGMA user_version.

Never edit a migration that has shipped: add a new one at the end.
"""

MIGRATIONS: tuple[str, ...] = (
    # 1: core tables for labeling.
    """
    CREATE TABLE projects (
        id                 INTEGER PRIMARY KEY,
        slug               TEXT NOT NULL UNIQUE,
        name               TEXT NOT NULL,
        question           TEXT NOT NULL,          -- JSON {lang: text}
        guide              TEXT NOT NULL,          -- JSON {lang: text}
        guide_version      INTEGER NOT NULL DEFAULT 1,
        overlap            INTEGER NOT NULL CHECK (overlap >= 1),
        assignment_timeout REAL NOT NULL CHECK (assignment_timeout > 0),
        spec               TEXT NOT NULL,          -- the validated project file, as JSON
        created_at         REAL NOT NULL
    );
    CREATE TABLE options (
        id         INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        key        TEXT NOT NULL,
        texts      TEXT NOT NULL,                  -- JSON {lang: text}
        UNIQUE (project_id, idx),
        UNIQUE (project_id, key)
    );
    CREATE TABLE samples (
        id         INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        ext_id     TEXT NOT NULL,
        kind       TEXT NOT NULL
                   CHECK (kind IN ('text', 'photo', 'audio', 'voice', 'video', 'document')),
        text       TEXT,
        media      TEXT,                           -- file path or http(s) URL
        file_id    TEXT,                           -- Telegram file_id once uploaded
        truth      TEXT,                           -- option key, if known
        target     INTEGER NOT NULL CHECK (target >= 1),  -- labels wanted
        n_labels   INTEGER NOT NULL DEFAULT 0,     -- live labels
        n_open     INTEGER NOT NULL DEFAULT 0,     -- assignments shown, not yet answered
        need       INTEGER NOT NULL,               -- target - n_labels - n_open
        created_at REAL NOT NULL,
        UNIQUE (project_id, ext_id)
    );
    -- The hot query: the next sample for a worker walks this index in priority order.
    CREATE INDEX samples_pick ON samples (project_id, need, id) WHERE need > 0;

    CREATE TABLE workers (
        id                 INTEGER PRIMARY KEY,    -- Telegram user id
        first_name         TEXT NOT NULL DEFAULT '',
        username           TEXT,
        language           TEXT NOT NULL DEFAULT 'en',
        language_chosen    INTEGER NOT NULL DEFAULT 0,  -- 1 after /lang: beats Telegram's
        current_project_id INTEGER REFERENCES projects(id),
        created_at         REAL NOT NULL
    );
    CREATE TABLE memberships (
        worker_id  INTEGER NOT NULL REFERENCES workers(id),
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        role       TEXT NOT NULL CHECK (role IN ('worker', 'coordinator')),
        joined_at  REAL NOT NULL,
        idle_since REAL,                           -- told "all done"; told again when work comes
        PRIMARY KEY (worker_id, project_id)
    ) WITHOUT ROWID;
    CREATE INDEX memberships_project ON memberships (project_id);
    CREATE INDEX memberships_idle ON memberships (project_id) WHERE idle_since IS NOT NULL;
    CREATE TABLE invites (
        code       TEXT PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        role       TEXT NOT NULL CHECK (role IN ('worker', 'coordinator')),
        created_by INTEGER,
        created_at REAL NOT NULL,
        uses       INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;

    CREATE TABLE assignments (
        id         INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        sample_id  INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        worker_id  INTEGER NOT NULL REFERENCES workers(id),
        status     TEXT NOT NULL
                   CHECK (status IN ('open', 'done', 'skipped', 'reported', 'expired',
                                     'released')),
        shown_at   REAL NOT NULL,
        expires_at REAL NOT NULL,
        closed_at  REAL,
        option_id  INTEGER REFERENCES options(id), -- the answer, once status is 'done'
        UNIQUE (sample_id, worker_id)              -- a worker never sees a sample twice
    );
    -- One card at a time: a second open assignment for the same worker cannot exist.
    CREATE UNIQUE INDEX assignments_open_worker ON assignments (worker_id, project_id)
        WHERE status = 'open';
    CREATE INDEX assignments_open_expiry ON assignments (expires_at) WHERE status = 'open';
    CREATE INDEX assignments_worker_closed ON assignments (worker_id, closed_at);

    CREATE TABLE labels (
        id            INTEGER PRIMARY KEY,
        assignment_id INTEGER NOT NULL REFERENCES assignments(id) ON DELETE CASCADE,
        project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        sample_id     INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        worker_id     INTEGER NOT NULL REFERENCES workers(id),
        option_id     INTEGER NOT NULL REFERENCES options(id),
        shown_at      REAL NOT NULL,
        answered_at   REAL NOT NULL,
        guide_version INTEGER NOT NULL,
        retracted_at  REAL                         -- set by /undo; the row itself is kept
    );
    CREATE UNIQUE INDEX labels_one_live ON labels (assignment_id) WHERE retracted_at IS NULL;
    -- Foreign-key children need an index on the key, or every write to the parent scans them.
    CREATE INDEX labels_assignment ON labels (assignment_id);
    CREATE INDEX labels_project_sample ON labels (project_id, sample_id);
    CREATE INDEX labels_worker ON labels (worker_id, answered_at);
    CREATE INDEX labels_project_time ON labels (project_id, answered_at);

    CREATE TABLE reports (
        id            INTEGER PRIMARY KEY,
        assignment_id INTEGER NOT NULL REFERENCES assignments(id) ON DELETE CASCADE,
        project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        sample_id     INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        worker_id     INTEGER NOT NULL REFERENCES workers(id),
        reason        TEXT NOT NULL,
        created_at    REAL NOT NULL
    );
    CREATE INDEX reports_project ON reports (project_id, created_at);
    CREATE INDEX reports_assignment ON reports (assignment_id);

    CREATE TABLE events (
        id         INTEGER PRIMARY KEY,
        at         REAL NOT NULL,
        actor      INTEGER,                        -- Telegram user id, NULL for the system
        project_id INTEGER,
        kind       TEXT NOT NULL,
        data       TEXT NOT NULL DEFAULT '{}'      -- JSON
    );
    CREATE INDEX events_project ON events (project_id, at);
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

    -- Sample counters follow assignment status, so no code path can forget to update them.
    CREATE TRIGGER assignment_shown AFTER INSERT ON assignments WHEN NEW.status = 'open'
        BEGIN UPDATE samples SET n_open = n_open + 1, need = need - 1
              WHERE id = NEW.sample_id; END;
    -- Answering is one UPDATE of the assignment; the label row and its audit event are
    -- written here, in the same statement, so a label is never half-stored.
    CREATE TRIGGER assignment_answered AFTER UPDATE OF status ON assignments
        WHEN OLD.status = 'open' AND NEW.status = 'done'
        BEGIN
            UPDATE samples SET n_open = n_open - 1, n_labels = n_labels + 1
                WHERE id = NEW.sample_id;
            INSERT INTO labels (assignment_id, project_id, sample_id, worker_id, option_id,
                                shown_at, answered_at, guide_version)
                VALUES (NEW.id, NEW.project_id, NEW.sample_id, NEW.worker_id, NEW.option_id,
                        NEW.shown_at, NEW.closed_at,
                        (SELECT guide_version FROM projects WHERE id = NEW.project_id));
            INSERT INTO events (at, actor, project_id, kind, data)
                VALUES (NEW.closed_at, NEW.worker_id, NEW.project_id, 'label.recorded',
                        json_object('assignment', NEW.id, 'sample', NEW.sample_id,
                                    'option', NEW.option_id));
        END;
    CREATE TRIGGER assignment_returned AFTER UPDATE OF status ON assignments
        WHEN OLD.status = 'open' AND NEW.status NOT IN ('open', 'done')
        BEGIN UPDATE samples SET n_open = n_open - 1, need = need + 1
              WHERE id = NEW.sample_id; END;
    CREATE TRIGGER assignment_undone AFTER UPDATE OF status ON assignments
        WHEN OLD.status = 'done' AND NEW.status = 'open'
        BEGIN UPDATE samples SET n_open = n_open + 1, n_labels = n_labels - 1
              WHERE id = NEW.sample_id; END;
    """,
    # 2: data intake — content keys for duplicate checks, and a stored report per import.
    """
    ALTER TABLE samples ADD COLUMN content_key TEXT;   -- digest of the cleaned content
    ALTER TABLE samples ADD COLUMN import_id INTEGER;  -- the import that added it
    ALTER TABLE samples ADD COLUMN meta TEXT;          -- JSON of extra columns kept on import
    CREATE INDEX samples_content ON samples (project_id, content_key);
    CREATE TABLE imports (
        id         INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        at         REAL NOT NULL,
        actor      INTEGER,
        source     TEXT NOT NULL,
        rows_read  INTEGER NOT NULL DEFAULT 0,
        added      INTEGER NOT NULL DEFAULT 0,
        dropped    INTEGER NOT NULL DEFAULT 0,
        seconds    REAL NOT NULL DEFAULT 0,
        report     TEXT NOT NULL DEFAULT '{}'        -- JSON: every rule's count and examples
    );
    CREATE INDEX imports_project ON imports (project_id, at);
    """,
    # 3: quality engine — reviewer role, suspension and exam per membership, gold (control)
    # samples, the consensus per sample, reviewer decisions and a record of each check run.
    """
    CREATE TABLE memberships_v3 (
        worker_id        INTEGER NOT NULL REFERENCES workers(id),
        project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        role             TEXT NOT NULL CHECK (role IN ('worker', 'coordinator', 'reviewer')),
        joined_at        REAL NOT NULL,
        idle_since       REAL,
        suspended_at     REAL,                     -- set by a quality rule, cleared to reinstate
        suspended_reason TEXT,
        exam_status      TEXT CHECK (exam_status IN ('passed', 'failed')),  -- NULL: not done
        exam_started_at  REAL,                     -- gold answers after this count for the exam
        exam_attempts    INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (worker_id, project_id)
    ) WITHOUT ROWID;
    INSERT INTO memberships_v3 (worker_id, project_id, role, joined_at, idle_since)
        SELECT worker_id, project_id, role, joined_at, idle_since FROM memberships;
    DROP TABLE memberships;
    ALTER TABLE memberships_v3 RENAME TO memberships;
    CREATE INDEX memberships_project ON memberships (project_id);
    CREATE INDEX memberships_idle ON memberships (project_id) WHERE idle_since IS NOT NULL;

    CREATE TABLE invites_v3 (
        code       TEXT PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        role       TEXT NOT NULL CHECK (role IN ('worker', 'coordinator', 'reviewer')),
        created_by INTEGER,
        created_at REAL NOT NULL,
        uses       INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    INSERT INTO invites_v3
        SELECT code, project_id, role, created_by, created_at, uses FROM invites;
    DROP TABLE invites;
    ALTER TABLE invites_v3 RENAME TO invites;

    -- gold = 1: a control task with a known answer, served at the project's gold rate and in
    -- exams rather than through the pick index (its need stays 0).
    ALTER TABLE samples ADD COLUMN gold INTEGER NOT NULL DEFAULT 0;
    -- open: wants labels; done: consensus reached; review: a reviewer must decide;
    -- reviewed: a reviewer decided.
    ALTER TABLE samples ADD COLUMN status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'done', 'review', 'reviewed'));
    ALTER TABLE samples ADD COLUMN consensus INTEGER REFERENCES options(id);
    ALTER TABLE samples ADD COLUMN confidence REAL;
    CREATE INDEX samples_gold ON samples (project_id, id) WHERE gold = 1;
    CREATE INDEX samples_review ON samples (project_id, id) WHERE status = 'review';

    CREATE TABLE reviews (
        id          INTEGER PRIMARY KEY,
        project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        sample_id   INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
        reviewer_id INTEGER NOT NULL REFERENCES workers(id),
        option_id   INTEGER NOT NULL REFERENCES options(id),
        decided_at  REAL NOT NULL
    );
    CREATE INDEX reviews_sample ON reviews (sample_id);
    CREATE INDEX reviews_project ON reviews (project_id, id);

    CREATE TABLE quality_runs (
        id            INTEGER PRIMARY KEY,
        project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        at            REAL NOT NULL,
        last_label_id INTEGER NOT NULL,            -- labels up to here were aggregated
        last_review_id INTEGER NOT NULL,
        seconds       REAL NOT NULL,
        summary       TEXT NOT NULL                -- JSON: method, alpha, kappa, counts, pairs
    );
    CREATE INDEX quality_runs_project ON quality_runs (project_id, id);
    """,
    # 4: imports check content keys in memory (ImportSession); the index only slowed them.
    """
    DROP INDEX samples_content;
    """,
    # 5: a per-project counter of what a quality check must see (a label given or undone, a
    # reviewer's decision, a suspension or reinstatement), bumped by triggers: "changed since
    # the last check?" was MAX(id) over the project's labels (0.8 s cold at 1M labels, on the
    # bot's connection) and missed undos. A small table of its own: bumping a counter on the
    # projects row would rewrite the row's guide and question on every tap.
    """
    CREATE TABLE project_changes (
        project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
        n          INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO project_changes (project_id) SELECT id FROM projects;
    CREATE TRIGGER project_changes_new AFTER INSERT ON projects
        BEGIN INSERT INTO project_changes (project_id) VALUES (NEW.id); END;
    CREATE TRIGGER changes_label AFTER INSERT ON labels
        BEGIN UPDATE project_changes SET n = n + 1 WHERE project_id = NEW.project_id; END;
    CREATE TRIGGER changes_undo AFTER UPDATE OF retracted_at ON labels
        BEGIN UPDATE project_changes SET n = n + 1 WHERE project_id = NEW.project_id; END;
    CREATE TRIGGER changes_review AFTER INSERT ON reviews
        BEGIN UPDATE project_changes SET n = n + 1 WHERE project_id = NEW.project_id; END;
    CREATE TRIGGER changes_suspension AFTER UPDATE OF suspended_at ON memberships
        BEGIN UPDATE project_changes SET n = n + 1 WHERE project_id = NEW.project_id; END;
    -- the counter each check saw; -1 (runs before this migration): check once more
    ALTER TABLE quality_runs ADD COLUMN changes INTEGER NOT NULL DEFAULT -1;
    """,
    # 6: updates survive a crash. The inbox holds every update from Telegram before it is
    # confirmed (getUpdates with a higher offset), so a kill cannot lose a tap in flight; an
    # update is marked handled once its handler ran. update_effects records what an update
    # that is not idempotent by itself (/undo, an invite) did, in the same transaction as its
    # effect, so a replay after a crash finds it and does nothing twice. A card's message id is
    # kept on its assignment: an open card whose message was never delivered is sent again,
    # and a superseded card can be edited to a marker. runs: when the bot started, last
    # showed it was alive, and whether it stopped cleanly.
    """
    CREATE TABLE inbox (
        update_id   INTEGER PRIMARY KEY,
        data        TEXT NOT NULL,                 -- the update as Telegram sent it (JSON)
        received_at REAL NOT NULL,
        handled_at  REAL
    );
    CREATE INDEX inbox_pending ON inbox (update_id) WHERE handled_at IS NULL;
    CREATE INDEX inbox_handled ON inbox (handled_at) WHERE handled_at IS NOT NULL;
    CREATE TABLE update_effects (
        update_id INTEGER NOT NULL,
        step      TEXT NOT NULL,
        result    TEXT NOT NULL DEFAULT '{}',      -- JSON: what the step did
        at        REAL NOT NULL,
        PRIMARY KEY (update_id, step)
    ) WITHOUT ROWID;
    CREATE INDEX update_effects_at ON update_effects (at);
    ALTER TABLE assignments ADD COLUMN message_id INTEGER;  -- the card on screen, once sent
    CREATE INDEX assignments_undelivered ON assignments (id)
        WHERE status = 'open' AND message_id IS NULL;
    CREATE TABLE runs (
        id         INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        alive_at   REAL NOT NULL,
        stopped_at REAL                            -- NULL: running, or stopped uncleanly
    );
    """,
    # 7: exams and control tasks are scored apart. exam_passed_at: when the worker passed the
    # project's exam; their gold answers after it are control answers (the gold-accuracy rule
    # counts only those), the ones before it were exam answers (the exam alone scores them).
    # Backfilled from the event log for exams passed before this migration.
    """
    ALTER TABLE memberships ADD COLUMN exam_passed_at REAL;
    UPDATE memberships SET exam_passed_at = p.at
        FROM (SELECT actor, project_id, MAX(at) AS at FROM events
              WHERE kind = 'exam.passed' GROUP BY actor, project_id) AS p
        WHERE p.actor = memberships.worker_id AND p.project_id = memberships.project_id
          AND memberships.exam_status = 'passed';
    """,
    # 8: a label remembers the tap (update) that gave it. A tap handled again after the label
    # was taken back with /undo (its card open once more) must not give it again: the answer
    # statement skips an assignment that already holds a label from the same update.
    """
    ALTER TABLE labels ADD COLUMN update_id INTEGER;
    ALTER TABLE assignments ADD COLUMN answer_update INTEGER;
    DROP TRIGGER assignment_answered;
    CREATE TRIGGER assignment_answered AFTER UPDATE OF status ON assignments
        WHEN OLD.status = 'open' AND NEW.status = 'done'
        BEGIN
            UPDATE samples SET n_open = n_open - 1, n_labels = n_labels + 1
                WHERE id = NEW.sample_id;
            INSERT INTO labels (assignment_id, project_id, sample_id, worker_id, option_id,
                                shown_at, answered_at, guide_version, update_id)
                VALUES (NEW.id, NEW.project_id, NEW.sample_id, NEW.worker_id, NEW.option_id,
                        NEW.shown_at, NEW.closed_at,
                        (SELECT guide_version FROM projects WHERE id = NEW.project_id),
                        NEW.answer_update);
            INSERT INTO events (at, actor, project_id, kind, data)
                VALUES (NEW.closed_at, NEW.worker_id, NEW.project_id, 'label.recorded',
                        json_object('assignment', NEW.id, 'sample', NEW.sample_id,
                                    'option', NEW.option_id));
        END;
    """,
    # 9: exports. Each project gets a secret for the keyed hash (HMAC) that turns a worker's
    # Telegram id into the pseudonym an export shows: stable across exports of a project,
    # unlinkable across projects, and never derivable from the id alone. It lives here, with
    # the data it protects, and a trigger gives every new project its own. randomblob() draws
    # from SQLite's PRNG, seeded from the OS's randomness. reports_sample: an export reads a
    # sample's problem reports with its labels, one indexed lookup per sample.
    """
    CREATE TABLE export_secrets (
        project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
        secret     BLOB NOT NULL
    );
    INSERT INTO export_secrets (project_id, secret) SELECT id, randomblob(32) FROM projects;
    CREATE TRIGGER export_secret_new AFTER INSERT ON projects
        BEGIN INSERT INTO export_secrets (project_id, secret)
              VALUES (NEW.id, randomblob(32)); END;
    CREATE INDEX reports_sample ON reports (sample_id);
    """,
    # 10: projects change after creation (`labelgram project update`) and workers can be
    # forgotten. revision: bumped by each update, so a running bot drops its cached project,
    # spec and options (it polls the column). guide_versions: every guide a project had,
    # numbered as labels record them (labels.guide_version). A forgotten worker keeps a row
    # under a negative id, with no name, no username and no Telegram id anywhere; the
    # pseudonym their labels had in each project's exports stays in erased_pseudonyms.
    """
    ALTER TABLE projects ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE guide_versions (
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        version    INTEGER NOT NULL,
        guide      TEXT NOT NULL,                  -- JSON {lang: text}
        created_at REAL NOT NULL,
        PRIMARY KEY (project_id, version)
    );
    INSERT INTO guide_versions (project_id, version, guide, created_at)
        SELECT id, guide_version, guide, created_at FROM projects;
    CREATE TRIGGER guide_version_first AFTER INSERT ON projects
        BEGIN INSERT INTO guide_versions (project_id, version, guide, created_at)
              VALUES (NEW.id, NEW.guide_version, NEW.guide, NEW.created_at); END;
    ALTER TABLE workers ADD COLUMN erased_at REAL;
    CREATE TABLE erased_pseudonyms (
        worker_id  INTEGER NOT NULL REFERENCES workers(id),
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        pseudonym  TEXT NOT NULL,
        PRIMARY KEY (worker_id, project_id)
    );
    """,
    # 11: the problem-report inbox (notes, holds, decisions) and project life (pause, close).
    """
    -- A report can carry the worker's note; a decision closes it (fixed: the sample's text was
    -- corrected; excluded: the sample is out of the data; dismissed: nothing wrong).
    -- announced: counted in a batched notice to the coordinators (one per batch, not one per
    -- report). samples.held: NULL in the pool; 'held' reported by report_hold workers and out
    -- of the pool until a coordinator decides; 'excluded' out for good (with its reason). The
    -- pick index carries `held`, so the pick skips held samples without reading their rows.
    ALTER TABLE reports ADD COLUMN note TEXT;
    ALTER TABLE reports ADD COLUMN decision TEXT
        CHECK (decision IN ('fixed', 'excluded', 'dismissed'));
    ALTER TABLE reports ADD COLUMN decided_at REAL;
    ALTER TABLE reports ADD COLUMN decided_by INTEGER;
    ALTER TABLE reports ADD COLUMN announced INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX reports_open ON reports (project_id, sample_id) WHERE decided_at IS NULL;
    CREATE INDEX reports_unannounced ON reports (project_id) WHERE announced = 0;
    ALTER TABLE samples ADD COLUMN held TEXT CHECK (held IN ('held', 'excluded'));
    ALTER TABLE samples ADD COLUMN excluded_reason TEXT;
    DROP INDEX samples_pick;
    CREATE INDEX samples_pick ON samples (project_id, need, id, held) WHERE need > 0;
    -- A project's life: no row while it runs; paused (no cards go out), closed (read-only,
    -- still exportable) or archived (closed and put away). A tiny table of its own: every
    -- claim looks it up, and the projects row carries the whole project file.
    CREATE TABLE project_life (
        project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
        state      TEXT NOT NULL CHECK (state IN ('paused', 'closed', 'archived')),
        since      REAL NOT NULL,
        actor      INTEGER
    ) WITHOUT ROWID;
    -- The next text message a user sends answers the bot's question: a note to a report, the
    -- corrected text of a sample, a new guide. One at a time per user.
    CREATE TABLE pending_replies (
        user_id INTEGER PRIMARY KEY,
        kind    TEXT NOT NULL CHECK (kind IN ('note', 'fix', 'guide')),
        ref     INTEGER NOT NULL,                  -- the report, the sample, the project
        mode    TEXT,                              -- fix: keep | clear; guide: the language
        at      REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # 12: the persistent outbox (one row per recipient) and broadcasts. A row is 'sending'
    # only while its message is in flight: one found so at start was in flight at a crash and
    # goes again, flagged maybe_twice (sendMessage has no idempotency key). guide_announced:
    # the guide version the project's workers were last told about. workers.unreachable_at:
    # when a send met 403 (the user blocked the bot).
    """
    CREATE TABLE broadcasts (
        id           INTEGER PRIMARY KEY,
        project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        sender_id    INTEGER NOT NULL,             -- who wrote it; gets the delivery report
        status       TEXT NOT NULL CHECK (status IN
                     ('compose', 'draft', 'sending', 'done', 'cancelled', 'dropped')),
        from_chat_id INTEGER,                      -- the message copied to each recipient
        message_id   INTEGER,
        audience     TEXT,                         -- e.g. 'all', 'active:7', 'lang:ko'
        total        INTEGER NOT NULL DEFAULT 0,   -- recipients, fixed when sent
        created_at   REAL NOT NULL,
        started_at   REAL,
        finished_at  REAL
    );
    CREATE INDEX broadcasts_sender ON broadcasts (sender_id, status);
    CREATE INDEX broadcasts_project ON broadcasts (project_id, id);
    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY,
        broadcast_id INTEGER REFERENCES broadcasts(id) ON DELETE CASCADE,  -- NULL: a notice
        chat_id      INTEGER NOT NULL,
        kind         TEXT NOT NULL,                -- 'copy' (a broadcast) or a notice's text
        payload      TEXT NOT NULL DEFAULT '{}',   -- JSON: the notice's values
        dedup        TEXT UNIQUE,                  -- a notice that goes once per key
        status       TEXT NOT NULL DEFAULT 'queued' CHECK (status IN
                     ('queued', 'sending', 'sent', 'unreachable', 'failed', 'cancelled')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        maybe_twice  INTEGER NOT NULL DEFAULT 0,   -- in flight at a crash: may have gone twice
        next_at      REAL NOT NULL,
        created_at   REAL NOT NULL,
        done_at      REAL,
        message_id   INTEGER,                      -- Telegram's, once confirmed
        error        TEXT
    );
    CREATE INDEX outbox_queued ON outbox (id) WHERE status = 'queued';
    CREATE INDEX outbox_sending ON outbox (id) WHERE status = 'sending';
    CREATE INDEX outbox_broadcast ON outbox (broadcast_id, status);
    CREATE TABLE guide_announced (
        project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
        version    INTEGER NOT NULL
    );
    INSERT INTO guide_announced (project_id, version) SELECT id, guide_version FROM projects;
    CREATE TRIGGER guide_announced_first AFTER INSERT ON projects
        BEGIN INSERT INTO guide_announced (project_id, version)
              VALUES (NEW.id, NEW.guide_version); END;
    ALTER TABLE workers ADD COLUMN unreachable_at REAL;  -- the bot was blocked (403)
    -- The worker's reachability follows their latest outbox outcome, in the statement that
    -- records it (one write per message: the sender's writes share the lock with labeling).
    CREATE TRIGGER outbox_unreachable AFTER UPDATE OF status ON outbox
        WHEN NEW.status = 'unreachable'
        BEGIN UPDATE workers SET unreachable_at = NEW.done_at
              WHERE id = NEW.chat_id AND unreachable_at IS NULL; END;
    CREATE TRIGGER outbox_reached AFTER UPDATE OF status ON outbox
        WHEN NEW.status = 'sent'
        BEGIN UPDATE workers SET unreachable_at = NULL
              WHERE id = NEW.chat_id AND unreachable_at IS NOT NULL; END;
    """,
    # 13: the roster: notices sent once per change, invite expiry and use limits.
    """
    -- (workers.unreachable_at, which the roster shows, comes with migration 12)
    -- A worker flag a coordinator was told about: open while the check keeps finding it
    -- (told once), closed when a check no longer does (told again if it comes back). The
    -- rows are also the worker's recent flags on their roster card.
    CREATE TABLE worker_flags (
        id         INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        worker_id  INTEGER NOT NULL REFERENCES workers(id),
        rule       TEXT NOT NULL,                  -- what fired (the reason without figures)
        reason     TEXT NOT NULL,                  -- the reason as first told
        first_at   REAL NOT NULL,
        last_at    REAL NOT NULL,
        cleared_at REAL
    );
    CREATE UNIQUE INDEX worker_flags_open ON worker_flags (project_id, worker_id, rule)
        WHERE cleared_at IS NULL;
    CREATE INDEX worker_flags_worker ON worker_flags (project_id, worker_id, id);
    -- A worker removed from a project by a coordinator: an invite made before the removal
    -- does not bring them back.
    CREATE TABLE removals (
        worker_id  INTEGER NOT NULL REFERENCES workers(id),
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        removed_at REAL NOT NULL,
        removed_by INTEGER,
        PRIMARY KEY (worker_id, project_id)
    ) WITHOUT ROWID;
    -- Invites: an expiry, a use limit, revocation, and a number for buttons (/invites).
    ALTER TABLE invites ADD COLUMN expires_at REAL;        -- NULL: never
    ALTER TABLE invites ADD COLUMN max_uses INTEGER;       -- NULL: unlimited
    ALTER TABLE invites ADD COLUMN revoked_at REAL;
    ALTER TABLE invites ADD COLUMN seq INTEGER;
    UPDATE invites SET seq = (SELECT COUNT(*) FROM invites AS i WHERE i.code <= invites.code);
    CREATE UNIQUE INDEX invites_seq ON invites (seq);
    CREATE INDEX invites_project ON invites (project_id);
    """,
    # 14: daily digests: what each digest covered, worker opt-outs.
    """
    CREATE TABLE digest_runs (                     -- one coordinators' digest per local day
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        day        TEXT NOT NULL,                  -- the local date, YYYY-MM-DD
        since      REAL NOT NULL,                  -- news (flags, suspensions, exams) after this
        until      REAL NOT NULL,                  -- ... up to this: the next run's since
        created_at REAL NOT NULL,
        done_at    REAL,                           -- every recipient was tried
        PRIMARY KEY (project_id, day)
    ) WITHOUT ROWID;
    CREATE TABLE digest_sends (                    -- one row per recipient and day: sent once
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        day        TEXT NOT NULL,
        user_id    INTEGER NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('coordinator', 'worker')),
        state      TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'unreachable', 'failed')),
        attempts   INTEGER NOT NULL DEFAULT 1,
        at         REAL NOT NULL,
        PRIMARY KEY (project_id, day, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE digest_optouts (                  -- /digest off: no worker digest
        worker_id INTEGER PRIMARY KEY REFERENCES workers(id),
        at        REAL NOT NULL
    );
    """,
)
