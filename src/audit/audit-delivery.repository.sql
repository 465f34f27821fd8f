-- Written by npm run sql:snapshot from src/audit/audit-delivery.repository.ts: its statements as PostgreSQL receives them.

-- audit_delivery_advance ($1 owner, $2 leaseMs, $3 seq, $4 sink)
UPDATE audit_deliveries SET leased_by = $1, lease_until = now() + ($2::double precision * interval '1 millisecond'), updated_at = now(), delivered_seq = $3::bigint, attempts = 0, next_attempt_at = NULL, last_error = NULL, last_delivered_at = now()
       WHERE sink = $4 AND leased_by = $1 RETURNING sink;

-- audit_delivery_claim ($1 owner, $2 leaseMs, $3 sink, $4 force)
UPDATE audit_deliveries SET leased_by = $1, lease_until = now() + ($2::double precision * interval '1 millisecond'), updated_at = now()
       WHERE sink = $3 AND ($4::boolean OR leased_by IS NULL OR leased_by = $1 OR lease_until < now())
       RETURNING delivered_seq::text AS seq, attempts,
         greatest(0, coalesce(extract(epoch FROM next_attempt_at - now()) * 1000, 0))::double precision AS wait_ms;

-- audit_delivery_ensure ($1 sink, $2 seq)
INSERT INTO audit_deliveries (sink, delivered_seq) VALUES ($1, $2) ON CONFLICT (sink) DO NOTHING;

-- audit_delivery_fail ($1 owner, $2 leaseMs, $3 attempts, $4 retryInMs, $5 error, $6 sink)
UPDATE audit_deliveries SET leased_by = $1, lease_until = now() + ($2::double precision * interval '1 millisecond'), updated_at = now(), attempts = $3, next_attempt_at = now() + ($4::double precision * interval '1 millisecond'), last_error = $5
       WHERE sink = $6 AND leased_by = $1 RETURNING sink;

-- audit_delivery_forget_all_but ($1 sinks)
DELETE FROM audit_deliveries WHERE NOT (sink = ANY($1::text[]));

-- audit_delivery_lowest
SELECT min(delivered_seq)::text AS seq FROM audit_deliveries;

-- audit_delivery_release ($1 sink, $2 owner)
UPDATE audit_deliveries SET leased_by = NULL, lease_until = NULL WHERE sink = $1 AND leased_by = $2;

-- audit_delivery_skip_to ($1 seq, $2 sink, $3 force, $4 owner)
UPDATE audit_deliveries SET delivered_seq = greatest(delivered_seq, $1::bigint), updated_at = now()
       WHERE sink = $2 AND ($3::boolean OR leased_by IS NULL OR leased_by = $4 OR lease_until < now());

-- audit_delivery_status
SELECT d.sink, d.delivered_seq::text AS seq, d.attempts, d.last_error,
         (SELECT count(*) FROM audit_events e WHERE e.seq > d.delivered_seq)::int AS backlog,
         coalesce(extract(epoch FROM now() - (SELECT min(e.occurred_at) FROM audit_events e WHERE e.seq > d.delivered_seq)), 0)::double precision AS lag
       FROM audit_deliveries d ORDER BY d.sink;
