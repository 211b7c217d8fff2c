import Foundation
import Logging
import PostgresNIO
import StrataMessageCore

/// The message store's tables and server-side functions, versioned: the
/// row of `<prefix>schema_version` says which migrations a database has
/// had; `migrate` applies the missing ones in order, in one transaction
/// under an advisory lock (several brokers may open one store at once), and
/// refuses a store written by a newer build.
///
/// Version 1 is the layout of the libpq-era store (tables only; a store
/// that has them but no version row is version 1). Version 2 adds the
/// functions that make each hot operation one round trip: `add` (duplicate
/// check against ids and open windows, insert of the batch), `receive`
/// (`FOR UPDATE SKIP LOCKED` + lock in one statement, committed without
/// waiting for the WAL flush), `complete` (delete + duplicate-window markers,
/// all or none), `abandon`, `move` (dead-letter) and `drop` (expired). Their
/// predicates only store what `BrokerPolicy` decides: the Swift side passes
/// the queue's limits and takes every dead-letter and drop decision.
/// Version 3 re-creates the functions so that every one that settles or
/// stores commits durably even on a server whose `synchronous_commit` is
/// `off` (version 2's took the server's setting). Version 4 adds the
/// procedures `add_committed` and `complete_committed`: the same work,
/// committed inside the call, so that the server's answer to the call comes
/// after the commit (see "Why the hot writes are procedures" below).
/// Version 5 re-creates the add and complete functions and procedures with
/// a path of plain statements for one message (or one token) and with the
/// procedures no longer calling the functions: the same results, less
/// server time per call.
enum PostgresSchema {
    /// The newest version this build writes.
    static let current = 5

    /// Makes the transaction's commit wait for its WAL flush (and a
    /// synchronous standby) when the session would not: raises
    /// `synchronous_commit = off` to `on` for this transaction only, and
    /// leaves every stronger setting (`local`, `remote_write`, `on`,
    /// `remote_apply`) as the operator chose it. An acknowledged add or
    /// settle must survive a server crash; only a receive's lock may be lost
    /// (Docs/message-store.md, "Commit modes of the PostgreSQL store").
    static let durableCommit = "set_config('synchronous_commit', 'on', true) WHERE current_setting('synchronous_commit') = 'off'"

    /// The notification channel of a store: payload `q<origin>:<queue>` for
    /// arrivals (adds, abandons, dead-letters) in `queue` by the store
    /// instance `origin`, `c` for a catalog change. Arrivals are notified
    /// after their commit by `ArrivalNotifier`, not inside the writing
    /// transaction: a notifying commit takes a database-wide lock until it
    /// is flushed, which would serialise every add.
    static func channel(_ t: String) -> String { t + "events" }

    static func migrate(_ c: PostgresConnection, prefix t: String, logger: Logger) async throws {
        try await c.run("SELECT pg_advisory_xact_lock(hashtext(\(t + "schema")))", logger: logger)
        try await c.run("CREATE TABLE IF NOT EXISTS \(unescaped: t)schema_version(version INTEGER NOT NULL)", logger: logger)
        var version: Int?
        for try await v in try await c.query("SELECT version FROM \(unescaped: t)schema_version", logger: logger).decode(Int.self) { version = v }
        if version == nil {
            var legacy = false
            for try await exists in try await c.query("SELECT to_regclass(\(t + "messages")) IS NOT NULL", logger: logger).decode(Bool.self) {
                legacy = exists
            }
            version = legacy ? 1 : 0
            try await c.run("INSERT INTO \(unescaped: t)schema_version(version) VALUES (\(version!))", logger: logger)
        }
        let found = version!
        guard found <= current else {
            throw MessageStoreError(.invalidArgument, """
                the PostgreSQL store \(t)* has schema version \(found); this build of Strata knows versions up to \(current) \
                — open it with a newer build (nothing was changed)
                """)
        }
        guard found < current else { return }
        for v in (found + 1)...current {
            for statement in migration(v, t) { try await c.run(PostgresQuery(unsafeSQL: statement), logger: logger) }
        }
        try await c.run("UPDATE \(unescaped: t)schema_version SET version = \(current)", logger: logger)
        logger.info("PostgreSQL store \(t)* migrated from schema version \(found) to \(current)")
    }

    /// The statements that bring version `v - 1` to `v`. A step that
    /// changes a function re-creates them all with today's bodies (`CREATE
    /// OR REPLACE`), so running every step to the newest is the same as
    /// running the newest.
    static func migration(_ v: Int, _ t: String) -> [String] {
        switch v {
        case 1: return tables(t)
        case 2, 3: return functions(t)
        case 4: return procedures(t)
        case 5: return functions(t) + procedures(t)
        default: return []
        }
    }

    private static func tables(_ t: String) -> [String] {
        let empty = String(decoding: (try? JSONEncoder().encode(EntityCatalog())) ?? Data("{}".utf8), as: UTF8.self)
        return [
            """
            CREATE TABLE IF NOT EXISTS \(t)messages(
                seq BIGSERIAL PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                queue TEXT NOT NULL,
                visible_at BIGINT NOT NULL,
                record BYTEA NOT NULL,
                size INTEGER NOT NULL,
                timestamp_ms BIGINT NOT NULL,
                expires_at BIGINT,
                delivery_count INTEGER NOT NULL,
                lock_token BYTEA,
                locked_until BIGINT NOT NULL DEFAULT 0)
            """,
            "CREATE INDEX IF NOT EXISTS \(t)messages_by_queue ON \(t)messages(queue, visible_at, seq)",
            "CREATE TABLE IF NOT EXISTS \(t)removed_ids(id TEXT PRIMARY KEY, window_end BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS \(t)catalog(k INTEGER PRIMARY KEY CHECK (k = 0), json BYTEA NOT NULL)",
            "INSERT INTO \(t)catalog(k, json) VALUES (0, convert_to('\(empty.replacingOccurrences(of: "'", with: "''"))', 'UTF8')) ON CONFLICT DO NOTHING",
        ]
    }

    /// `Int64.min + 1`: "no expiry" inside the `add` function's bigint array.
    static let noExpiry = Int(Int64.min + 1)

    private static func functions(_ t: String) -> [String] {
        [
            """
            CREATE OR REPLACE FUNCTION \(t)add(\(addParameters)) RETURNS void LANGUAGE plpgsql AS $fn$
            DECLARE dup text;
            BEGIN
            \(addBody(t))
            END $fn$
            """,
            """
            CREATE OR REPLACE FUNCTION \(t)receive(p_queue text, p_now bigint, p_limit bigint, p_until bigint, p_max bigint, p_expiry boolean)
            RETURNS TABLE(o_seq bigint, o_visible bigint, o_record bytea, o_count bigint, o_token bytea, o_flagged boolean)
            LANGUAGE plpgsql AS $fn$
            BEGIN
              -- A lock is not worth a WAL flush: if the server loses it in a crash (or a
              -- failover) the message is delivered again, and its holder's settle finds no
              -- lock (.lockLost): at least once holds. Every later durable commit flushes it.
              PERFORM set_config('synchronous_commit', 'off', true);
              RETURN QUERY
              WITH c AS (
                SELECT m.seq, ((p_expiry AND m.expires_at IS NOT NULL AND m.expires_at <= p_now) OR m.delivery_count >= p_max) AS flagged
                FROM \(t)messages m
                WHERE m.queue = p_queue AND m.visible_at <= p_now AND (m.lock_token IS NULL OR m.locked_until <= p_now)
                ORDER BY m.visible_at, m.seq LIMIT p_limit FOR UPDATE SKIP LOCKED),
              u AS (
                UPDATE \(t)messages m SET delivery_count = m.delivery_count + 1, lock_token = uuid_send(gen_random_uuid()), locked_until = p_until
                FROM c WHERE m.seq = c.seq AND NOT c.flagged
                RETURNING m.seq, m.visible_at, m.record, m.delivery_count, m.lock_token)
              SELECT x.* FROM (
                SELECT u.seq, u.visible_at, u.record, u.delivery_count::bigint, u.lock_token, false FROM u
                UNION ALL
                SELECT m.seq, m.visible_at, m.record, m.delivery_count::bigint, NULL::bytea, true
                FROM \(t)messages m JOIN c ON m.seq = c.seq WHERE c.flagged) x
              ORDER BY 2, 1;
            END $fn$
            """,
            """
            CREATE OR REPLACE FUNCTION \(t)complete(\(completeParameters)) RETURNS void LANGUAGE plpgsql AS $fn$
            DECLARE n bigint; total bigint := coalesce(array_length(p_ids, 1), 0); win_end bigint;
            BEGIN
            \(completeBody(t))
            END $fn$
            """,
            """
            CREATE OR REPLACE FUNCTION \(t)abandon(p_id text, p_queue text, p_token bytea, p_now bigint, p_max bigint)
            RETURNS integer LANGUAGE plpgsql AS $fn$
            DECLARE cnt integer;
            BEGIN
              PERFORM \(durableCommit);
              SELECT delivery_count INTO cnt FROM \(t)messages
              WHERE id = p_id AND queue = p_queue AND lock_token = p_token AND locked_until > p_now FOR UPDATE;
              IF NOT FOUND THEN RETURN 0; END IF;
              IF cnt >= p_max THEN RETURN 2; END IF;
              UPDATE \(t)messages SET lock_token = NULL, locked_until = 0 WHERE id = p_id;
              RETURN 1;
            END $fn$
            """,
            """
            CREATE OR REPLACE FUNCTION \(t)move(p_seq bigint, p_token bytea, p_now bigint, p_id text, p_queue text, p_record bytea,
                p_size bigint, p_ts bigint, p_expires bigint, p_count bigint) RETURNS boolean LANGUAGE plpgsql AS $fn$
            BEGIN
              PERFORM \(durableCommit);
              DELETE FROM \(t)messages WHERE seq = p_seq AND CASE WHEN p_token IS NULL THEN lock_token IS NULL OR locked_until <= p_now
                                                                ELSE lock_token = p_token AND locked_until > p_now END;
              IF NOT FOUND THEN RETURN false; END IF;
              INSERT INTO \(t)messages(id, queue, visible_at, record, size, timestamp_ms, expires_at, delivery_count)
                VALUES (p_id, p_queue, p_now, p_record, p_size, p_ts, p_expires, p_count);
              RETURN true;
            END $fn$
            """,
            """
            CREATE OR REPLACE FUNCTION \(t)drop(p_seq bigint, p_now bigint, p_window bigint) RETURNS void LANGUAGE plpgsql AS $fn$
            DECLARE mid text; ts bigint;
            BEGIN
              PERFORM \(durableCommit);
              DELETE FROM \(t)messages WHERE seq = p_seq AND (lock_token IS NULL OR locked_until <= p_now) RETURNING id, timestamp_ms INTO mid, ts;
              IF FOUND AND p_window >= 0 AND ts + p_window > p_now THEN
                INSERT INTO \(t)removed_ids(id, window_end) VALUES (mid, ts + p_window)
                ON CONFLICT (id) DO UPDATE SET window_end = EXCLUDED.window_end;
              END IF;
            END $fn$
            """,
        ]
    }

    /// Why the hot writes are procedures: through the extended query
    /// protocol (every statement postgres-nio sends) a statement outside a
    /// transaction block is committed at the `Sync` after it, once the
    /// server has already sent the statement's `CommandComplete`, and
    /// postgres-nio ends the query at `CommandComplete`. A store that
    /// returned there acknowledged a write before its WAL flush and its wait
    /// for a synchronous standby, and never saw a commit that failed. A
    /// procedure called outside a transaction block may commit: the
    /// `COMMIT` inside runs before the server answers the `CALL`, so the
    /// answer is the acknowledgement of a durable write (one round trip,
    /// where BEGIN / statement / COMMIT takes three). Only for top-level
    /// calls: inside a transaction block a `CALL` that commits fails, and
    /// the functions are called instead.
    private static func procedures(_ t: String) -> [String] {
        [
            """
            CREATE OR REPLACE PROCEDURE \(t)add_committed(\(addParameters)) LANGUAGE plpgsql AS $fn$
            DECLARE dup text;
            BEGIN
            \(addBody(t))
              COMMIT;
            END $fn$
            """,
            """
            CREATE OR REPLACE PROCEDURE \(t)complete_committed(\(completeParameters)) LANGUAGE plpgsql AS $fn$
            DECLARE n bigint; total bigint := coalesce(array_length(p_ids, 1), 0); win_end bigint;
            BEGIN
            \(completeBody(t))
              COMMIT;
            END $fn$
            """,
        ]
    }

    private static let addParameters = """
        p_ids text[], p_queues text[], p_visible bigint[], p_records bytea[], p_sizes bigint[], \
        p_ts bigint[], p_expires bigint[], p_counts bigint[], p_now bigint
        """

    /// The work of `add` and `add_committed` (written once, inlined in both:
    /// a procedure that called the function paid a second call per add).
    /// One message, the common case, takes a path of plain statements on
    /// the arrays' first elements; `unnest` and its sort cost about a fifth
    /// of the server's time per add (schema version 5, Docs/benchmarks.md).
    private static func addBody(_ t: String) -> String {
        """
          PERFORM \(durableCommit);
          IF cardinality(p_ids) = 1 THEN
            -- The marker of an id whose window has passed goes; one still open fails the add (and is restored).
            DELETE FROM \(t)removed_ids r WHERE r.id = p_ids[1] RETURNING CASE WHEN r.window_end > p_now THEN r.id END INTO dup;
            IF dup IS NOT NULL THEN
              RAISE unique_violation USING MESSAGE = format('a message with id %s is inside its duplicate window', dup);
            END IF;
            INSERT INTO \(t)messages(id, queue, visible_at, record, size, timestamp_ms, expires_at, delivery_count)
              VALUES (p_ids[1], p_queues[1], p_visible[1], p_records[1], p_sizes[1], p_ts[1],
                      CASE WHEN p_expires[1] = \(noExpiry) THEN NULL ELSE p_expires[1] END, p_counts[1]);
          ELSE
            -- Markers of ids whose window has passed go; one still open fails the batch (and restores them all).
            WITH d AS (DELETE FROM \(t)removed_ids r WHERE r.id = ANY(p_ids) RETURNING r.id, r.window_end)
            SELECT d.id INTO dup FROM d WHERE d.window_end > p_now LIMIT 1;
            IF dup IS NOT NULL THEN
              RAISE unique_violation USING MESSAGE = format('a message with id %s is inside its duplicate window', dup);
            END IF;
            INSERT INTO \(t)messages(id, queue, visible_at, record, size, timestamp_ms, expires_at, delivery_count)
              SELECT u.i, u.q, u.v, u.r, u.s, u.ts, CASE WHEN u.e = \(noExpiry) THEN NULL ELSE u.e END, u.c
              FROM unnest(p_ids, p_queues, p_visible, p_records, p_sizes, p_ts, p_expires, p_counts)
                   WITH ORDINALITY AS u(i, q, v, r, s, ts, e, c, n)
              ORDER BY u.n;
          END IF;
        """
    }

    private static let completeParameters = "p_ids text[], p_queues text[], p_tokens bytea[], p_windows bigint[], p_now bigint"

    /// The work of `complete` and `complete_committed` (as `addBody`: one
    /// token takes a path of plain statements).
    private static func completeBody(_ t: String) -> String {
        """
          PERFORM \(durableCommit);
          IF total = 1 THEN
            DELETE FROM \(t)messages m
              WHERE m.id = p_ids[1] AND m.queue = p_queues[1] AND m.lock_token = p_tokens[1] AND m.locked_until > p_now
              RETURNING m.timestamp_ms + p_windows[1] INTO win_end;
            IF NOT FOUND THEN
              RAISE EXCEPTION USING ERRCODE = '\(PostgresErrorMapping.lockNotHeld)',
                MESSAGE = '1 of 1 lock tokens are not held (expired, released, settled or never issued); none was completed';
            END IF;
            IF p_windows[1] >= 0 AND win_end > p_now THEN
              INSERT INTO \(t)removed_ids(id, window_end) VALUES (p_ids[1], win_end)
                ON CONFLICT (id) DO UPDATE SET window_end = EXCLUDED.window_end;
            END IF;
          ELSE
            WITH k AS (SELECT * FROM unnest(p_ids, p_queues, p_tokens, p_windows) AS k(id, queue, token, win)),
            d AS (DELETE FROM \(t)messages m USING k
                  WHERE m.id = k.id AND m.queue = k.queue AND m.lock_token = k.token AND m.locked_until > p_now
                  RETURNING m.id, m.timestamp_ms + k.win AS window_end, k.win),
            w AS (INSERT INTO \(t)removed_ids(id, window_end) SELECT d.id, d.window_end FROM d WHERE d.win >= 0 AND d.window_end > p_now
                  ON CONFLICT (id) DO UPDATE SET window_end = EXCLUDED.window_end)
            SELECT count(*) INTO n FROM d;
            IF n <> total THEN
              RAISE EXCEPTION USING ERRCODE = '\(PostgresErrorMapping.lockNotHeld)',
                MESSAGE = format('%s of %s lock tokens are not held (expired, released, settled or never issued); none was completed', total - n, total);
            END IF;
          END IF;
        """
    }
}
