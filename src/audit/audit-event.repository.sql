-- Written by npm run sql:snapshot from src/audit/audit-event.repository.ts: its statements as PostgreSQL receives them.

-- audit_append ($1 audit_lock, $2 audit_schema, $3 events)
WITH appending AS (SELECT pg_advisory_xact_lock_shared($1))
       INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT $2::smallint, e.type, e.occurred_at, e.actor_kind, e.actor_id, e.client_id, e.subject, e.resource, e.scopes, e.ip, e.user_agent, e.request_id, e.outcome, e.data
         FROM appending, ROWS FROM (jsonb_to_recordset($3::jsonb) AS (type text, occurred_at timestamptz, actor_kind text, actor_id text, client_id text, subject text, resource text, scopes text[], ip text, user_agent text, request_id text, outcome text, data jsonb))
              WITH ORDINALITY AS e(type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data, n)
        ORDER BY e.n
       RETURNING seq, id;

-- audit_delete_delivered ($1 before, $2 upTo, $3 limit)
DELETE FROM audit_events WHERE seq IN (
         SELECT seq FROM audit_events WHERE occurred_at < $1::timestamptz AND seq <= $2::bigint ORDER BY seq LIMIT $3
       );

-- audit_horizon ($1 lock)
SELECT (CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END)::text AS seq, pg_advisory_xact_lock($1::bigint)::text AS settled
        FROM audit_events_seq_seq s;
