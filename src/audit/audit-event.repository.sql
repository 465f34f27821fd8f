-- Written by npm run sql:snapshot from src/audit/audit-event.repository.ts: its statements as PostgreSQL receives them.

-- audit_append_1 ($1 audit_lock, $2 audit_schema, $3 event1_type, $4 event1_time, $5 event1_actor_kind, $6 event1_actor_id, $7 event1_client_id, $8 event1_subject, $9 event1_resource, $10 event1_scopes, $11 event1_ip, $12 event1_user_agent, $13 event1_request_id, $14 event1_outcome, $15 event1_data)
WITH ordering AS (SELECT pg_advisory_xact_lock($1))
       INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM ordering, (VALUES ($2::smallint, $3::text, $4::timestamptz, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text[], $11::text, $12::text, $13::text, $14::text, $15::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data;

-- audit_append_2 ($1 audit_lock, $2 audit_schema, $3 event1_type, $4 event1_time, $5 event1_actor_kind, $6 event1_actor_id, $7 event1_client_id, $8 event1_subject, $9 event1_resource, $10 event1_scopes, $11 event1_ip, $12 event1_user_agent, $13 event1_request_id, $14 event1_outcome, $15 event1_data, $16 event2_type, $17 event2_time, $18 event2_actor_kind, $19 event2_actor_id, $20 event2_client_id, $21 event2_subject, $22 event2_resource, $23 event2_scopes, $24 event2_ip, $25 event2_user_agent, $26 event2_request_id, $27 event2_outcome, $28 event2_data)
WITH ordering AS (SELECT pg_advisory_xact_lock($1))
       INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM ordering, (VALUES ($2::smallint, $3::text, $4::timestamptz, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text[], $11::text, $12::text, $13::text, $14::text, $15::jsonb),
         ($2::smallint, $16::text, $17::timestamptz, $18::text, $19::text, $20::text, $21::text, $22::text, $23::text[], $24::text, $25::text, $26::text, $27::text, $28::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data;

-- audit_append_3 ($1 audit_lock, $2 audit_schema, $3 event1_type, $4 event1_time, $5 event1_actor_kind, $6 event1_actor_id, $7 event1_client_id, $8 event1_subject, $9 event1_resource, $10 event1_scopes, $11 event1_ip, $12 event1_user_agent, $13 event1_request_id, $14 event1_outcome, $15 event1_data, $16 event2_type, $17 event2_time, $18 event2_actor_kind, $19 event2_actor_id, $20 event2_client_id, $21 event2_subject, $22 event2_resource, $23 event2_scopes, $24 event2_ip, $25 event2_user_agent, $26 event2_request_id, $27 event2_outcome, $28 event2_data, $29 event3_type, $30 event3_time, $31 event3_actor_kind, $32 event3_actor_id, $33 event3_client_id, $34 event3_subject, $35 event3_resource, $36 event3_scopes, $37 event3_ip, $38 event3_user_agent, $39 event3_request_id, $40 event3_outcome, $41 event3_data)
WITH ordering AS (SELECT pg_advisory_xact_lock($1))
       INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM ordering, (VALUES ($2::smallint, $3::text, $4::timestamptz, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text[], $11::text, $12::text, $13::text, $14::text, $15::jsonb),
         ($2::smallint, $16::text, $17::timestamptz, $18::text, $19::text, $20::text, $21::text, $22::text, $23::text[], $24::text, $25::text, $26::text, $27::text, $28::jsonb),
         ($2::smallint, $29::text, $30::timestamptz, $31::text, $32::text, $33::text, $34::text, $35::text, $36::text[], $37::text, $38::text, $39::text, $40::text, $41::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data;

-- audit_append_4 ($1 audit_lock, $2 audit_schema, $3 event1_type, $4 event1_time, $5 event1_actor_kind, $6 event1_actor_id, $7 event1_client_id, $8 event1_subject, $9 event1_resource, $10 event1_scopes, $11 event1_ip, $12 event1_user_agent, $13 event1_request_id, $14 event1_outcome, $15 event1_data, $16 event2_type, $17 event2_time, $18 event2_actor_kind, $19 event2_actor_id, $20 event2_client_id, $21 event2_subject, $22 event2_resource, $23 event2_scopes, $24 event2_ip, $25 event2_user_agent, $26 event2_request_id, $27 event2_outcome, $28 event2_data, $29 event3_type, $30 event3_time, $31 event3_actor_kind, $32 event3_actor_id, $33 event3_client_id, $34 event3_subject, $35 event3_resource, $36 event3_scopes, $37 event3_ip, $38 event3_user_agent, $39 event3_request_id, $40 event3_outcome, $41 event3_data, $42 event4_type, $43 event4_time, $44 event4_actor_kind, $45 event4_actor_id, $46 event4_client_id, $47 event4_subject, $48 event4_resource, $49 event4_scopes, $50 event4_ip, $51 event4_user_agent, $52 event4_request_id, $53 event4_outcome, $54 event4_data)
WITH ordering AS (SELECT pg_advisory_xact_lock($1))
       INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM ordering, (VALUES ($2::smallint, $3::text, $4::timestamptz, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text[], $11::text, $12::text, $13::text, $14::text, $15::jsonb),
         ($2::smallint, $16::text, $17::timestamptz, $18::text, $19::text, $20::text, $21::text, $22::text, $23::text[], $24::text, $25::text, $26::text, $27::text, $28::jsonb),
         ($2::smallint, $29::text, $30::timestamptz, $31::text, $32::text, $33::text, $34::text, $35::text, $36::text[], $37::text, $38::text, $39::text, $40::text, $41::jsonb),
         ($2::smallint, $42::text, $43::timestamptz, $44::text, $45::text, $46::text, $47::text, $48::text, $49::text[], $50::text, $51::text, $52::text, $53::text, $54::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data;

-- audit_delete_delivered ($1 before, $2 upTo, $3 limit)
DELETE FROM audit_events WHERE seq IN (
         SELECT seq FROM audit_events WHERE occurred_at < $1::timestamptz AND seq <= $2::bigint ORDER BY seq LIMIT $3
       );

-- audit_max_seq
SELECT coalesce(max(seq), 0)::text AS seq FROM audit_events;
