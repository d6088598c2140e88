"""The audit trail is append-only in the database: UPDATE, DELETE and TRUNCATE
on accounts_auditentry raise, whoever the connecting role is."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION civgrid_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '审计记录只能追加，不能修改或删除 (audit trail is append-only: % refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON accounts_auditentry
    FOR EACH ROW EXECUTE FUNCTION civgrid_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON accounts_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION civgrid_audit_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_no_truncate ON accounts_auditentry;
DROP TRIGGER IF EXISTS audit_no_update_delete ON accounts_auditentry;
DROP FUNCTION IF EXISTS civgrid_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
