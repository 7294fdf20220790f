"""The archive's schema, as ordered data.

Enters: nothing. Leaves: `MIGRATIONS`, a list of `(version, name, sql)`; `db.migrate` applies the
ones a database has not recorded in `schema_migrations`, each in its own transaction, in list
order; a number missing from the list is simply skipped and applied whenever it is added. Never edit
a released entry: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "publications, watermarks, crawl log, tags",
        """
        CREATE TABLE publications (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            source_id TEXT NOT NULL,
            url TEXT,
            title TEXT NOT NULL,
            type TEXT,
            agencies TEXT NOT NULL DEFAULT '[]',
            publication_date TEXT NOT NULL,
            abstract TEXT,
            action TEXT,
            dates TEXT,
            effective_on TEXT,
            comments_close_on TEXT,
            cfr_references TEXT NOT NULL DEFAULT '[]',
            regulation_id_numbers TEXT NOT NULL DEFAULT '[]',
            docket_ids TEXT NOT NULL DEFAULT '[]',
            topics TEXT NOT NULL DEFAULT '[]',
            body_text TEXT,
            raw TEXT NOT NULL DEFAULT '{}',
            content_hash TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            first_seen TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            change_seq INTEGER NOT NULL,
            UNIQUE (source, source_id)
        );
        CREATE INDEX publications_date ON publications (publication_date);
        CREATE INDEX publications_change_seq ON publications (change_seq);

        CREATE TABLE watermarks (
            source TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE crawl_log (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            ok INTEGER NOT NULL,
            stats TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX crawl_log_source ON crawl_log (source, id);

        CREATE TABLE tag_results (
            publication_id INTEGER PRIMARY KEY REFERENCES publications (id) ON DELETE CASCADE,
            model_version TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            result TEXT NOT NULL,
            tagged_at TEXT NOT NULL
        );

        CREATE TABLE publication_tags (
            publication_id INTEGER NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            score REAL,
            PRIMARY KEY (publication_id, tag)
        ) WITHOUT ROWID;
        CREATE INDEX publication_tags_tag ON publication_tags (tag, publication_id);
        """,
    ),
    (
        2,
        "tag failures",
        """
        CREATE TABLE tag_failures (
            publication_id INTEGER PRIMARY KEY REFERENCES publications (id) ON DELETE CASCADE,
            model_version TEXT NOT NULL,
            reason TEXT NOT NULL,
            failed_at TEXT NOT NULL
        );
        """,
    ),
    (
        3,
        "digest log: sent digests per recipient list and what each contained",
        """
        CREATE TABLE digests_sent (
            id INTEGER PRIMARY KEY,
            list_name TEXT NOT NULL,
            period_start TEXT NOT NULL,
            period_end TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            subject TEXT NOT NULL,
            recipients TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX digests_sent_list ON digests_sent (list_name, period_start, period_end);

        CREATE TABLE digest_items (
            digest_id INTEGER NOT NULL REFERENCES digests_sent (id) ON DELETE CASCADE,
            publication_id INTEGER NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('new', 'late', 'change')),
            PRIMARY KEY (digest_id, publication_id)
        ) WITHOUT ROWID;
        CREATE INDEX digest_items_publication ON digest_items (publication_id);
        CREATE INDEX publications_first_seen ON publications (first_seen);
        """,
    ),
    (
        4,
        "alert routes, alert outbox, what each document looked like when last alerted on",
        """
        CREATE TABLE alert_routes (
            name TEXT PRIMARY KEY,
            added_at TEXT NOT NULL
        );

        CREATE TABLE alert_seen (
            publication_id INTEGER PRIMARY KEY REFERENCES publications (id) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL
        );

        CREATE TABLE alert_outbox (
            id INTEGER PRIMARY KEY,
            route TEXT NOT NULL,
            publication_id INTEGER NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('new', 'updated')),
            payload TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sent', 'failed', 'maybe')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (route, publication_id, version)
        );
        CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_at);
        CREATE INDEX alert_outbox_route ON alert_outbox (route, publication_id);
        """,
    ),
    (
        5,
        "crawl ledger: per source and day, how many documents the source listed and when",
        """
        CREATE TABLE crawl_ledger (
            source TEXT NOT NULL,
            day TEXT NOT NULL,
            listed INTEGER NOT NULL CHECK (listed >= 0),
            checked_at TEXT NOT NULL,
            PRIMARY KEY (source, day)
        ) WITHOUT ROWID;
        """,
    ),
    (
        6,
        "scheduler: job runs, heartbeat, source incidents and the ops notices sent for them",
        """
        CREATE TABLE job_runs (
            id INTEGER PRIMARY KEY,
            job_id TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            ok INTEGER,
            summary TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX job_runs_job ON job_runs (job_id, id);

        CREATE TABLE scheduler_heartbeat (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pid INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            beat_at TEXT NOT NULL
        );

        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('silence', 'failures')),
            detail TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            closed_at TEXT
        );
        CREATE UNIQUE INDEX incidents_open ON incidents (source, kind) WHERE closed_at IS NULL;

        CREATE TABLE incident_notices (
            incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
            route TEXT NOT NULL,
            event TEXT NOT NULL CHECK (event IN ('opened', 'cleared')),
            sent_at TEXT NOT NULL,
            PRIMARY KEY (incident_id, route, event)
        ) WITHOUT ROWID;
        """,
    ),
    (
        7,
        "record families, withdrawn public-inspection filings, full-text fetches",
        """
        ALTER TABLE publications ADD COLUMN family TEXT;
        UPDATE publications SET family = 'fr:' || source_id WHERE source = 'federal_register';
        CREATE INDEX publications_family ON publications (family);
        ALTER TABLE publications ADD COLUMN withdrawn_at TEXT;

        CREATE TABLE body_fetches (
            publication_id INTEGER PRIMARY KEY REFERENCES publications (id) ON DELETE CASCADE,
            url TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'fetched', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX body_fetches_state ON body_fetches (state, attempts);
        """,
    ),
    (
        8,
        "validators of fetched pages and feeds; links between releases and the documents they name",
        """
        CREATE TABLE http_validators (
            source TEXT NOT NULL,
            url TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (source, url)
        ) WITHOUT ROWID;

        CREATE TABLE publication_links (
            publication_id INTEGER NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
            related_id INTEGER NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('document_number', 'citation', 'rin', 'title')),
            evidence TEXT NOT NULL,
            linked_at TEXT NOT NULL,
            PRIMARY KEY (publication_id, related_id)
        ) WITHOUT ROWID;
        CREATE INDEX publication_links_related ON publication_links (related_id);
        CREATE INDEX publications_citation ON publications (json_extract(raw, '$.citation'));
        """,
    ),
    (
        9,
        "publication versions: what changed in each stored version, and when",
        """
        CREATE TABLE publication_versions (
            publication_id INTEGER NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            changed TEXT NOT NULL DEFAULT '[]',
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (publication_id, version)
        ) WITHOUT ROWID;
        INSERT INTO publication_versions (publication_id, version, changed, recorded_at)
            SELECT id, version, '[]', updated_at FROM publications;
        """,
    ),
    (
        10,
        "watch-list: hits per document, the document's priority, the watch-lists matched so far",
        """
        CREATE TABLE watch_hits (
            publication_id INTEGER NOT NULL REFERENCES publications (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            item TEXT NOT NULL,
            matched TEXT NOT NULL,
            field TEXT NOT NULL,
            start INTEGER,
            "end" INTEGER,
            quote TEXT NOT NULL,
            score REAL NOT NULL,
            version INTEGER NOT NULL,
            found_at TEXT NOT NULL,
            PRIMARY KEY (publication_id, kind, item, matched)
        ) WITHOUT ROWID;
        CREATE INDEX watch_hits_found ON watch_hits (found_at);

        CREATE TABLE watch_priority (
            publication_id INTEGER PRIMARY KEY REFERENCES publications (id) ON DELETE CASCADE,
            priority INTEGER NOT NULL CHECK (priority > 0)
        );

        CREATE TABLE watch_lists (
            fingerprint TEXT PRIMARY KEY,
            items INTEGER NOT NULL,
            used_at TEXT NOT NULL,
            rematched_at TEXT
        );
        CREATE INDEX watch_lists_used ON watch_lists (used_at);
        """,
    ),
    (
        11,
        "screening-list snapshots, records, deltas and FR joins; eCFR section changes",
        """
        CREATE TABLE screening_snapshots (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            published_at TEXT,
            fetched_at TEXT NOT NULL,
            total INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            sources_used TEXT NOT NULL DEFAULT '[]',
            baseline INTEGER NOT NULL,
            added INTEGER NOT NULL DEFAULT 0,
            removed INTEGER NOT NULL DEFAULT 0,
            changed INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE screening_records (
            record_id TEXT PRIMARY KEY,
            list TEXT NOT NULL,
            list_name TEXT NOT NULL,
            name TEXT NOT NULL,
            countries TEXT NOT NULL DEFAULT '[]',
            federal_register_notice TEXT,
            record TEXT NOT NULL,
            record_hash TEXT NOT NULL,
            first_snapshot INTEGER NOT NULL REFERENCES screening_snapshots (id),
            changed_snapshot INTEGER NOT NULL REFERENCES screening_snapshots (id),
            removed_snapshot INTEGER REFERENCES screening_snapshots (id)
        );
        CREATE INDEX screening_records_list ON screening_records (list);

        CREATE TABLE screening_citations (
            citation TEXT NOT NULL,
            record_id TEXT NOT NULL REFERENCES screening_records (record_id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            PRIMARY KEY (citation, record_id)
        ) WITHOUT ROWID;
        CREATE INDEX screening_citations_record ON screening_citations (record_id);

        CREATE TABLE screening_names (
            name_key TEXT NOT NULL,
            record_id TEXT NOT NULL REFERENCES screening_records (record_id) ON DELETE CASCADE,
            PRIMARY KEY (name_key, record_id)
        ) WITHOUT ROWID;
        CREATE INDEX screening_names_record ON screening_names (record_id);

        CREATE TABLE screening_deltas (
            snapshot_id INTEGER NOT NULL REFERENCES screening_snapshots (id) ON DELETE CASCADE,
            record_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'changed')),
            fields TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (snapshot_id, record_id)
        ) WITHOUT ROWID;

        CREATE TABLE ecfr_changes (
            id INTEGER PRIMARY KEY,
            title INTEGER NOT NULL,
            part TEXT NOT NULL,
            identifier TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('section', 'appendix')),
            name TEXT NOT NULL,
            old_date TEXT NOT NULL,
            new_date TEXT NOT NULL,
            amendment_date TEXT NOT NULL,
            issue_date TEXT NOT NULL,
            substantive INTEGER NOT NULL,
            removed INTEGER NOT NULL,
            old_text TEXT NOT NULL,
            new_text TEXT NOT NULL,
            changes TEXT NOT NULL DEFAULT '[]',
            diff TEXT NOT NULL,
            old_url TEXT,
            new_url TEXT,
            stored_at TEXT NOT NULL,
            UNIQUE (title, identifier, new_date)
        );
        CREATE INDEX ecfr_changes_amended ON ecfr_changes (amendment_date, part);
        """,
    ),
    (
        12,
        "compressed source records; what SQL reads of them (citation, full-text URL, "
        "public-inspection issue) in columns of their own",
        """
        ALTER TABLE publications ADD COLUMN citation TEXT;
        ALTER TABLE publications ADD COLUMN body_url TEXT;
        ALTER TABLE publications ADD COLUMN last_public_inspection_issue TEXT;
        DROP INDEX publications_citation;
        UPDATE publications SET
            citation = IIF(
                json_type(raw, '$.citation') = 'text', NULLIF(raw ->> '$.citation', ''), NULL
            ),
            body_url = COALESCE(
                IIF(
                    json_type(raw, '$.raw_text_url') = 'text',
                    NULLIF(raw ->> '$.raw_text_url', ''),
                    NULL
                ),
                IIF(
                    json_type(raw, '$.body_html_url') = 'text',
                    NULLIF(raw ->> '$.body_html_url', ''),
                    NULL
                )
            ),
            last_public_inspection_issue = IIF(
                json_type(raw, '$.last_public_inspection_issue') = 'text',
                NULLIF(raw ->> '$.last_public_inspection_issue', ''),
                NULL
            );
        CREATE INDEX publications_citation ON publications (citation);
        """,
    ),
    (
        14,
        "alerts not about a publication (screening-list parties); watch-list matching of snapshots",
        """
        CREATE TABLE alert_outbox_new (
            id INTEGER PRIMARY KEY,
            route TEXT NOT NULL,
            publication_id INTEGER REFERENCES publications (id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('new', 'updated')),
            payload TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sent', 'failed', 'maybe')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (route, publication_id, version)
        );
        INSERT INTO alert_outbox_new SELECT * FROM alert_outbox;
        DROP TABLE alert_outbox;
        ALTER TABLE alert_outbox_new RENAME TO alert_outbox;
        CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_at);
        CREATE INDEX alert_outbox_route ON alert_outbox (route, publication_id);

        ALTER TABLE screening_snapshots ADD COLUMN watch_matched_at TEXT;
        """,
    ),
    (
        15,
        "screening-list parties that touched the watch-list, for digests",
        """
        CREATE TABLE screening_watch_hits (
            snapshot_id INTEGER NOT NULL REFERENCES screening_snapshots (id) ON DELETE CASCADE,
            record_id TEXT NOT NULL,
            matched_at TEXT NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (snapshot_id, record_id)
        );
        CREATE INDEX screening_watch_hits_matched ON screening_watch_hits (matched_at);
        """,
    ),
    (
        16,
        "when a full text began failing, so a host outage does not use up its attempts",
        """
        ALTER TABLE body_fetches ADD COLUMN failing_since TEXT;
        """,
    ),
    (
        17,
        "which archive this database is and the last change it handed the search index, so an "
        "index of another archive or newer than a restored database is rebuilt",
        """
        CREATE TABLE index_mark (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            archive TEXT NOT NULL,
            seq INTEGER
        );
        INSERT INTO index_mark (id, archive) VALUES (1, lower(hex(randomblob(16))));
        """,
    ),
    (
        18,
        "whether a sent digest's mail server never answered it (maybe delivered)",
        """
        ALTER TABLE digests_sent ADD COLUMN outcome TEXT NOT NULL DEFAULT 'sent'
            CHECK (outcome IN ('sent', 'maybe'));
        """,
    ),
]
