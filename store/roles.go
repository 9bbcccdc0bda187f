package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"gorm.io/gorm"
)

// roleName is a role or schema name that is safe to write into a GRANT
// statement unquoted: lower-case letters, digits and underscores.
var roleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// GrantApplication gives the role the api and the workers run as what they need
// and no more, on Postgres, where the schema belongs to the role that migrates
// (the owner): reading and writing the case file's tables, but on audit_log only
// SELECT and INSERT, so the application cannot update, delete or truncate the
// audit trail, nor drop its trigger (only the owner can). homeward migrate runs
// it after the migrations, every time, so a table a later migration adds is
// granted too. On SQLite there are no roles: it does nothing.
func (s *Store) GrantApplication(ctx context.Context, role string) error {
	if s.driver != "postgres" {
		return nil
	}
	if !roleName.MatchString(role) {
		return fmt.Errorf("store: application role %q: want lower-case letters, digits and underscores", role)
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var owner bool
		if err := tx.Raw(`SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema()
			AND tablename = 'audit_log' AND tableowner = ?)`, role).Scan(&owner).Error; err != nil {
			return err
		}
		if owner {
			return errors.New("store: the application role owns the tables: run the migrations as another role (the owner)")
		}
		var schema string
		if err := tx.Raw(`SELECT current_schema()`).Scan(&schema).Error; err != nil {
			return err
		}
		if !roleName.MatchString(schema) {
			return fmt.Errorf("store: schema %q: want lower-case letters, digits and underscores", schema)
		}
		for _, stmt := range []string{
			`GRANT USAGE ON SCHEMA ` + schema + ` TO ` + role,
			`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + schema + ` TO ` + role,
			`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ` + schema + ` TO ` + role,
			// The audit trail is appended to and read, never changed.
			`REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM ` + role,
			// The migrations' own bookkeeping is read (homeward dev checks it), never written.
			`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON goose_db_version FROM ` + role,
		} {
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("store: granting the application role: %w", err)
			}
		}
		return nil
	})
}

// AuditTrailWritable says whether the role this store connects as could change
// or remove audit entries (it owns audit_log, or may update, delete or truncate
// it): true on SQLite, which has no roles.
func (s *Store) AuditTrailWritable(ctx context.Context) (bool, error) {
	if s.driver != "postgres" {
		return true, nil
	}
	var w bool
	err := s.db.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema()
		AND tablename = 'audit_log' AND tableowner = current_user)
		OR has_table_privilege('audit_log', 'UPDATE') OR has_table_privilege('audit_log', 'DELETE')
		OR has_table_privilege('audit_log', 'TRUNCATE')`).Scan(&w).Error
	return w, err
}
