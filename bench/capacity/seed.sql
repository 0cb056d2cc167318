-- The capacity bench's directory, as the schema's owner (bench/capacity/run.sh):
--   psql CONNINFO -v calls=N -v depts=D -f seed.sql
-- Branch "bench"; departments bench-0 .. bench-(D-1), each ringing its longest-idle desk
-- only; for every call i a kiosk with token "bench-kiosk-i" and a desk (staff member
-- bench-desk-i of department bench-(i % D)) with the login token "bench-desk-i". Tokens are
-- stored as their SHA-256, as the server does (server/store/password.c); the desks have no
-- usable password, so no PBKDF2 check is spent on logging in hundreds of them.
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO branches (id, name) VALUES ('bench', 'Bench');
INSERT INTO departments (id, name, ring_strategy)
  SELECT 'bench-' || d, 'Bench ' || d, 'longest-idle' FROM generate_series(0, :depts - 1) d;
INSERT INTO kiosks (branch_id, name, token_hash)
  SELECT 'bench', 'bench kiosk ' || i, sha256(convert_to('bench-kiosk-' || i, 'UTF8'))
  FROM generate_series(0, :calls - 1) i;
INSERT INTO staff (username, name, password_hash)
  SELECT 'bench-desk-' || i, 'Bench desk ' || i, '!' FROM generate_series(0, :calls - 1) i;
INSERT INTO staff_departments (staff_id, department_id)
  SELECT id, 'bench-' || (substr(username, 12)::int % :depts) FROM staff
  WHERE username LIKE 'bench-desk-%';
INSERT INTO login_sessions (token_hash, staff_id, expires_at)
  SELECT sha256(convert_to(username, 'UTF8')), id, now() + interval '7 days' FROM staff
  WHERE username LIKE 'bench-desk-%';
COMMIT;
