namespace RdpNla.Server.Storage.Postgres;

/// <summary>
/// The PostgreSQL schema, one script per version, recorded in <c>rdpnla_schema</c>. Scripts are never edited once
/// released, only appended. They run in one transaction under an advisory lock, so instances starting together
/// migrate one after the other (docs/high-availability.md).
/// </summary>
internal static class PostgresSchemaMigrations
{
    public static readonly IReadOnlyList<string> Scripts =
    [
        // Version 1: users (as SQLite version 1) and the audit trail of every instance, each row naming its instance.
        """
        CREATE TABLE users (
            id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name                 text        NOT NULL,
            name_key             text        NOT NULL UNIQUE,
            nt_hash              bytea       NOT NULL CHECK (octet_length(nt_hash) = 16),
            disabled             boolean     NOT NULL DEFAULT false,
            locked_until         timestamptz,
            failed_count         integer     NOT NULL DEFAULT 0,
            last_failed_at       timestamptz,
            last_logon_at        timestamptz,
            password_last_set    timestamptz NOT NULL,
            password_expired     boolean     NOT NULL DEFAULT false,
            must_change_password boolean     NOT NULL DEFAULT false,
            deny_remote_logon    boolean     NOT NULL DEFAULT false,
            created_at           timestamptz NOT NULL,
            updated_at           timestamptz NOT NULL
        );

        CREATE TABLE audit (
            id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            time              timestamptz NOT NULL,
            instance_name     text,
            client_address    text,
            client_port       integer,
            user_name         text,
            domain            text,
            user_key          text,
            credssp_version   integer,
            security_protocol text,
            outcome           text        NOT NULL CHECK (outcome IN ('success', 'failure', 'refused', 'error')),
            nt_status         bigint,
            nt_status_name    text,
            reason            text        NOT NULL,
            connection_id     text        NOT NULL
        );

        CREATE INDEX audit_time ON audit (time);
        CREATE INDEX audit_user_time ON audit (user_key, time);
        CREATE INDEX audit_address_time ON audit (client_address, time);
        """,

        // Version 2 (as SQLite version 5): logon attempts are reserved before the password is verified (LockoutRules),
        // and a name that matches no user writes to the decoy row instead, so both cost the same write.
        """
        ALTER TABLE users ADD COLUMN attempts_in_progress integer NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN attempts_in_progress_until timestamptz;

        CREATE TABLE attempt_decoy (
            id                   integer     PRIMARY KEY CHECK (id = 1),
            attempts_in_progress integer     NOT NULL,
            updated_at           timestamptz
        );

        INSERT INTO attempt_decoy (id, attempts_in_progress) VALUES (1, 0);
        """,
    ];

    /// <summary>The schema version this build creates and understands.</summary>
    public static int LatestVersion => Scripts.Count;
}
